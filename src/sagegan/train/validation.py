"""Validation of the segmenter on whole validation images (no patches, no resizing).

Each image is segmented at native size (the networks pad internally to their size multiple and crop
back); scores are the per-image mean of pixel Dice and of object F1 at IoU 0.5 (instances: the
truth's labels as annotated, the prediction's 4-connected components), computed by
``sagegan.metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sagegan.metrics.objects import labels_from_mask, match_instances
from sagegan.metrics.pixel import pixel_scores
from sagegan.models.checkpoint import unwrap
from sagegan.train.runtime import Runtime, evaluating


@torch.no_grad()
def predict_logits(segmenter: nn.Module, image: np.ndarray, runtime: Runtime) -> torch.Tensor:
    """Logits (H x W, fp32, on CPU) of one whole image (H x W float32 in [-1, 1])."""
    model = unwrap(segmenter)
    batch = torch.from_numpy(np.ascontiguousarray(image))[None, None].to(runtime.device)
    with evaluating(model), runtime.autocast():
        logits = model(batch).logits
    return logits[0, 0].float().cpu()


def validate(segmenter: nn.Module, samples: Sequence[Any], runtime: Runtime) -> dict[str, float]:
    """Mean pixel Dice and object F1@0.5 over ``samples`` (with ``image`` and ``labels``)."""
    dice, f1 = [], []
    for sample in samples:
        predicted = (predict_logits(segmenter, sample.image, runtime) > 0).numpy()
        truth = np.asarray(sample.labels)
        dice.append(pixel_scores(predicted, truth > 0)["dice"])
        f1.append(match_instances(truth, labels_from_mask(predicted), thresh=0.5).f1)
    return {"dice": float(np.mean(dice)), "f1@0.5": float(np.mean(f1))}
