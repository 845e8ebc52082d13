"""Boundary distance between two binary masks: the 95th-percentile Hausdorff distance (HD95)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sagegan.errors import ConfigError
from sagegan.metrics.masks import as_binary_mask, check_same_shape


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """Foreground pixels with a background neighbour along an axis (4-connectivity in 2-D);
    outside the image counts as background, so objects cut by the image edge are closed there."""
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure=structure)
    return mask & ~eroded


def _distances_to(target: np.ndarray, sources: np.ndarray, pixel_size: float) -> np.ndarray:
    """Euclidean distance from every ``sources`` pixel to the nearest ``target`` pixel."""
    return ndimage.distance_transform_edt(~target, sampling=pixel_size)[sources]


def hausdorff95(pred_mask: np.ndarray, true_mask: np.ndarray, pixel_size: float = 1.0) -> float:
    """Symmetric 95th-percentile Hausdorff distance between the masks' boundaries.

    The larger of the two directed distances' 95th percentiles (prediction boundary to truth
    boundary, and back), in units of ``pixel_size``. Both masks empty: 0.0. Exactly one empty:
    NaN (undefined: there is no boundary to measure to; summaries count such images apart).
    """
    pred = as_binary_mask(pred_mask, "prediction")
    true = as_binary_mask(true_mask, "truth")
    check_same_shape(pred, true, ("prediction", "truth"))
    if not pixel_size > 0:
        raise ConfigError(f"pixel_size must be positive, got {pixel_size}")
    has_pred, has_true = bool(pred.any()), bool(true.any())
    if not has_pred and not has_true:
        return 0.0
    if not has_pred or not has_true:
        return float("nan")
    pred_edge, true_edge = mask_boundary(pred), mask_boundary(true)
    window = ndimage.find_objects((pred_edge | true_edge).astype(np.uint8))[0]
    pred_edge, true_edge = pred_edge[window], true_edge[window]
    forward = _distances_to(true_edge, pred_edge, pixel_size)
    backward = _distances_to(pred_edge, true_edge, pixel_size)
    return float(max(np.percentile(forward, 95), np.percentile(backward, 95)))
