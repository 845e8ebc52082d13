"""Inference: tiled prediction at native resolution, instance splitting and the `segment` job.

Typical use::

    from sagegan.infer import PredictionOptions, segment_images

    options = PredictionOptions(tile=(256, 256), threshold=0.4)
    summary = segment_images(["images/"], "runs/first", "segmented", options)
    summary.ok  # False when some input was skipped (see summary.failures)
"""

from __future__ import annotations

from sagegan.infer.backends import EagerBackend, OnnxBackend, TorchBackend
from sagegan.infer.export import export_onnx
from sagegan.infer.instances import split_instances
from sagegan.infer.loading import load_backend
from sagegan.infer.options import PredictionOptions
from sagegan.infer.segment import (
    ImageResult,
    SegmentFailure,
    SegmentSummary,
    attention_overlay,
    segment_images,
)
from sagegan.infer.tiling import Prediction, predict_tiled

__all__ = [
    "EagerBackend",
    "ImageResult",
    "OnnxBackend",
    "Prediction",
    "PredictionOptions",
    "SegmentFailure",
    "SegmentSummary",
    "TorchBackend",
    "attention_overlay",
    "export_onnx",
    "load_backend",
    "predict_tiled",
    "segment_images",
    "split_instances",
]
