"""Validation of the segmenter on whole validation images (no patches).

Each image is segmented whole (the networks pad internally to their size multiple and crop back) at
the run's working resolution (``data.scale``, which the ``auto`` plan may halve; the maps taken back
to the native grid); scores are the per-image mean of pixel Dice and of object F1 at IoU 0.5,
computed by ``sagegan.metrics``. Instances are counted as ``sagegan evaluate`` counts them: the
truth's labels as annotated, the prediction split by `split_instances` with the run's ``instances``
options (the boundary channel's bands cut out when the segmenter has an instance head), so touching
particles are separate objects in validation as on the test split. The images run through an
eval-mode channels_last copy of the segmenter: on the CPU that is faster than NCHW (see
docs/benchmarks.md, equal within 1e-6 in probability), and the training module keeps its layout.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sagegan.infer.instances import split_instances
from sagegan.infer.scaling import predict_at_scale
from sagegan.infer.tiling import Prediction
from sagegan.metrics.objects import match_instances
from sagegan.metrics.pixel import pixel_scores
from sagegan.models.checkpoint import unwrap
from sagegan.train.config import InstanceConfig
from sagegan.train.runtime import Runtime


def inference_copy(segmenter: nn.Module) -> nn.Module:
    """An eval-mode, channels_last copy of the (unwrapped) segmenter, for whole images."""
    return copy.deepcopy(unwrap(segmenter)).eval().to(memory_format=torch.channels_last)


@torch.inference_mode()
def predict_logits(model: nn.Module, image: np.ndarray, runtime: Runtime) -> torch.Tensor:
    """Logits (C x H x W, fp32, on CPU: foreground, then the boundary of an instance head) of one
    whole image (H x W float32 in [-1, 1])."""
    batch = torch.from_numpy(np.ascontiguousarray(image))[None, None].to(runtime.device)
    with runtime.autocast():
        logits = model(batch).logits
    return logits[0].float().cpu()


def predict_probabilities(
    model: nn.Module, image: np.ndarray, runtime: Runtime, scale: float = 1.0
) -> Prediction:
    """Foreground probability (H x W) of one whole image, with the boundary probability and
    centre map of an instance head (None where the segmenter has no such channel), predicted
    at the working resolution ``scale`` and returned on the image's grid."""

    def predict(pixels: np.ndarray) -> Prediction:
        channels = torch.sigmoid(predict_logits(model, pixels, runtime)).numpy()
        return Prediction.from_channels(channels, attention=None)

    return predict_at_scale(predict, image, scale)


def validate(
    segmenter: nn.Module,
    samples: Sequence[Any],
    runtime: Runtime,
    instances: InstanceConfig | None = None,
    scale: float = 1.0,
) -> dict[str, float]:
    """Mean pixel Dice and object F1@0.5 over ``samples`` (with ``image`` and ``labels``), the
    prediction (at the working resolution ``scale``) split into instances with the
    ``instances`` options."""
    instances = instances or InstanceConfig()
    model = inference_copy(segmenter)
    dice, f1 = [], []
    for sample in samples:
        prediction = predict_probabilities(model, sample.image, runtime, scale)
        truth = np.asarray(sample.labels)
        dice.append(pixel_scores(prediction.probability > 0.5, truth > 0)["dice"])
        labels = split_instances(
            prediction.probability, **prediction.instance_maps, **instances.split_options()
        )
        f1.append(match_instances(truth, labels, thresh=0.5).f1)
    return {"dice": float(np.mean(dice)), "f1@0.5": float(np.mean(f1))}
