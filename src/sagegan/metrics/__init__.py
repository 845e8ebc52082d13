"""Segmentation metrics (numpy/scipy only): pixel Dice/IoU, StarDist-style object matching with
F1 and panoptic quality, HD95, per-image and pooled summaries, and the evaluation protocols; the
network-free realism statistics of generated images (`sagegan.metrics.realism`). Their KID on the
builtin model's features, `sagegan.metrics.kid`, needs torch and is imported from there."""

from __future__ import annotations

from sagegan.metrics.aggregate import (
    object_columns,
    per_image_mean,
    pixel_columns,
    pooled,
    summarize,
    threshold_key,
)
from sagegan.metrics.distance import hausdorff95, mask_boundary
from sagegan.metrics.objects import (
    DEFAULT_THRESHOLDS,
    LabelOverlap,
    MatchResult,
    as_instance_labels,
    iou_matrix,
    label_overlap,
    labels_from_mask,
    match_instances,
    match_thresholds,
)
from sagegan.metrics.pixel import pixel_scores
from sagegan.metrics.protocol import (
    PROTOCOLS,
    default_thresholds,
    evaluate_dataset,
    evaluate_image,
)
from sagegan.metrics.realism import ImageStatistics, compare_statistics, realism_statistics
from sagegan.metrics.scores import matching_scores, scores_from_counts

__all__ = [
    "DEFAULT_THRESHOLDS",
    "PROTOCOLS",
    "ImageStatistics",
    "LabelOverlap",
    "MatchResult",
    "as_instance_labels",
    "compare_statistics",
    "default_thresholds",
    "evaluate_dataset",
    "evaluate_image",
    "hausdorff95",
    "iou_matrix",
    "label_overlap",
    "labels_from_mask",
    "mask_boundary",
    "match_instances",
    "match_thresholds",
    "matching_scores",
    "object_columns",
    "per_image_mean",
    "pixel_columns",
    "pixel_scores",
    "pooled",
    "realism_statistics",
    "scores_from_counts",
    "summarize",
    "threshold_key",
]
