"""Networks: the segmenters of the paper's comparison, the style U-Net generator and PatchGAN."""

from __future__ import annotations

from sagegan.models.output import SegmentationOutput
from sagegan.models.registry import (
    ModelInfo,
    build_model,
    count_parameters,
    format_model_table,
    list_models,
)

__all__ = [
    "ModelInfo",
    "SegmentationOutput",
    "build_model",
    "count_parameters",
    "format_model_table",
    "list_models",
]
