"""The value every segmentation network returns."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class SegmentationOutput(NamedTuple):
    """Output of a segmenter's ``forward``.

    logits: B x out_channels x H x W at the input size: channel 0 the foreground logit
        (sigmoid/BCE), channel 1, when the segmenter has an instance head, the boundary logit,
        and channel 2, when the head has a centre map, the centre-map logit.
    attention: attention-gate coefficients in [0, 1], one B x 1 x h_k x w_k map per gated skip,
        ordered coarsest first (decoder order, so ``attention[-1]`` is the full-resolution map);
        empty for networks without gates.
    """

    logits: Tensor
    attention: list[Tensor]

    @property
    def foreground(self) -> Tensor:
        """The foreground logits, B x 1 x H x W (channel 0)."""
        return self.logits[:, :1]
