"""`EnsembleBackend`: several trained segmenters run as one, their maps averaged.

nnU-Net averages the softmax of its five cross-validation models; here each member's sigmoid
probabilities (foreground and, with an instance head, boundary and centre) are averaged and
returned as logits of that mean, so that tiling, the instance split and every output treat an
ensemble like one network. Attention maps are averaged where the members' have the same shapes,
else the first member's are kept. Members must give the same output channels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from sagegan.errors import ConfigError
from sagegan.infer.backends import InferenceBackend
from sagegan.models.output import SegmentationOutput

PROBABILITY_EPS = 1e-6  # keeps the logit of an averaged probability of 0 or 1 finite


class EnsembleBackend(InferenceBackend):
    """Members' sigmoid maps averaged; runs on the first member's device; its ``stride`` is the
    largest member's, so that the tiling pads inputs to suit every member."""

    name = "ensemble"

    def __init__(self, members: Sequence[InferenceBackend]) -> None:
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least two members, got {len(members)}")
        self.members = list(members)
        self.stride = max(member.stride for member in self.members)
        self.device = self.members[0].device

    @contextlib.contextmanager
    def prepared(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for member in self.members:
                stack.enter_context(member.prepared())
            yield

    def __call__(self, batch: Tensor) -> SegmentationOutput:
        outputs = [member(batch) for member in self.members]
        channels = {output.logits.shape[1] for output in outputs}
        if len(channels) > 1:
            raise ConfigError(
                f"ensemble members give different output channels ({sorted(channels)}): "
                "combine models trained with the same instance head"
            )
        probability = torch.stack(
            [torch.sigmoid(output.logits.float().to(self.device)) for output in outputs]
        ).mean(0)
        logits = torch.logit(probability, eps=PROBABILITY_EPS)
        return SegmentationOutput(logits, _mean_attention(outputs))


def _mean_attention(outputs: Sequence[SegmentationOutput]) -> list[Tensor]:
    """Level-wise mean of the members' attention maps when their shapes agree, else the first's."""
    first = outputs[0].attention
    shapes = [[tuple(alpha.shape) for alpha in output.attention] for output in outputs]
    if any(shape != shapes[0] for shape in shapes):
        return list(first)
    return [
        torch.stack([output.attention[level].float() for output in outputs]).mean(0)
        for level in range(len(first))
    ]
