"""Object-level scores: IoU between instances and one-to-one matching, as in StarDist.

Definitions follow `stardist.matching.matching` ("optimal" matching, criterion IoU):

* The IoU of every (true, predicted) instance pair comes from one pixel overlap table.
* Pairs are matched one-to-one by the Hungarian algorithm on the cost
  ``-[IoU >= thresh] - IoU / (2 * min(n_true, n_pred))``: the number of matched pairs with
  IoU >= thresh is as large as possible, and ties go to the larger total IoU. This is also
  Cellpose's ``_true_positive``, which the SAGE-GAN reference uses.
* tp = matched pairs with IoU >= thresh, fp = n_pred - tp, fn = n_true - tp.
* precision = tp/(tp+fp), recall = tp/(tp+fn), accuracy = tp/(tp+fp+fn), f1 = 2tp/(2tp+fp+fn),
  mean_matched_score = mean IoU of the tp pairs, mean_true_score = their IoU sum / n_true,
  panoptic_quality = their IoU sum / (tp + fp/2 + fn/2) (Kirillov et al., CVPR 2019).
* Empty cases: all scores are 0 when tp == 0, as in StarDist, except for an image with neither
  true nor predicted objects, where every score is ``empty_score`` (default 1.0; StarDist: 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import linear_sum_assignment

from sagegan.errors import ConfigError, DataError
from sagegan.metrics.masks import as_binary_mask, check_same_shape
from sagegan.metrics.scores import EMPTY_SCORE, matching_scores

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * step, 2) for step in range(10))


@dataclass(frozen=True)
class LabelOverlap:
    """Pixel counts ``counts[i, j]`` of pixels labelled ``true_ids[i]`` in truth and
    ``pred_ids[j]`` in prediction; ``true_ids[0] == pred_ids[0] == 0`` is the background."""

    counts: np.ndarray
    true_ids: np.ndarray
    pred_ids: np.ndarray


@dataclass(frozen=True)
class MatchResult:
    """Matching scores at one IoU threshold; ``matched_pairs`` lists the accepted
    (true_id, pred_id, iou) pairs (IoU >= thresh) with the labels' own ids."""

    thresh: float
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    accuracy: float
    f1: float
    n_true: int
    n_pred: int
    mean_true_score: float
    mean_matched_score: float
    panoptic_quality: float
    matched_pairs: list[tuple[int, int, float]]

    @property
    def sum_matched_score(self) -> float:
        """Sum of the IoUs of the accepted pairs (what pooling over images adds up)."""
        return float(sum(iou for _, _, iou in self.matched_pairs))


def labels_from_mask(binary: np.ndarray, connectivity: int = 1) -> np.ndarray:
    """int32 labels 1..N of the connected components of a binary mask (1 = 4-connectivity in
    2-D, 2 = 8-connectivity)."""
    mask = as_binary_mask(binary)
    if not 1 <= connectivity <= mask.ndim:
        raise ConfigError(f"connectivity must be 1..{mask.ndim}, got {connectivity}")
    structure = ndimage.generate_binary_structure(mask.ndim, connectivity)
    labels, _ = ndimage.label(mask, structure=structure, output=np.int32)
    return labels


def as_instance_labels(
    array: np.ndarray, what: str = "labels", connectivity: int = 1
) -> np.ndarray:
    """Instance labels from a label image (kept as is) or a binary mask (connected components).

    An array is read as a binary mask when it is bool or has at most one non-zero value (so a
    label image holding a single instance made of separate pieces is split into its pieces).
    Float arrays must hold whole numbers; negative values are an error.
    """
    data = np.asarray(array)
    if data.dtype == bool:
        return labels_from_mask(data, connectivity)
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise DataError(None, f"{what}: float labels must be whole numbers")
        data = data.astype(np.int64)
    elif data.dtype.kind not in "iu":
        raise DataError(None, f"{what}: expected a binary mask or label image, got {data.dtype}")
    if data.size and data.min() < 0:
        raise DataError(None, f"{what}: labels must be non-negative, got minimum {data.min()}")
    foreground = data[data != 0]
    if foreground.size == 0 or np.all(foreground == foreground[0]):
        return labels_from_mask(data, connectivity)
    return data


def _sequential(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(flat indices 0..K, ids) with ``ids[index] == label`` and ``ids[0] == 0``."""
    flat = labels.ravel()
    top = int(flat.max(initial=0))
    if top <= flat.size:
        flat = flat.astype(np.intp, copy=False)
        present = np.bincount(flat, minlength=top + 1) > 0
        present[0] = True
        ids = np.flatnonzero(present)
        lookup = np.zeros(top + 1, dtype=np.intp)
        lookup[ids] = np.arange(ids.size)
        return lookup[flat], ids
    ids, index = np.unique(flat, return_inverse=True)
    if ids[0] != 0:
        ids, index = np.concatenate(([0], ids)), index + 1
    return index.astype(np.intp, copy=False), ids


def _check_labels(labels: np.ndarray, what: str) -> np.ndarray:
    data = np.asarray(labels)
    if data.dtype.kind not in "iu" or (data.size and data.min() < 0):
        raise DataError(None, f"{what}: expected non-negative integer labels, got {data.dtype}")
    return data


def label_overlap(true_labels: np.ndarray, pred_labels: np.ndarray) -> LabelOverlap:
    """Pixel overlap table of two label images (any ids; one ``np.bincount``, no pixel loop).

    Memory grows as (n_true + 1) * (n_pred + 1) * 8 bytes: 8 MB for 1000 objects each.
    """
    true = _check_labels(true_labels, "truth")
    pred = _check_labels(pred_labels, "prediction")
    check_same_shape(pred, true, ("prediction", "truth"))
    true_index, true_ids = _sequential(true)
    pred_index, pred_ids = _sequential(pred)
    n_rows, n_cols = true_ids.size, pred_ids.size
    counts = np.bincount(true_index * n_cols + pred_index, minlength=n_rows * n_cols)
    return LabelOverlap(counts.reshape(n_rows, n_cols), true_ids, pred_ids)


def iou_matrix(overlap: LabelOverlap, union_eps: float = 0.0) -> np.ndarray:
    """IoU of every (true, predicted) object pair, shape (n_true, n_pred), background left out.

    ``union_eps`` is added to every union; the SAGE-GAN reference adds 1e-6, so that an IoU of
    exactly 0.5 fails its 0.5 threshold.
    """
    counts = overlap.counts.astype(np.float64)
    true_sizes = counts.sum(axis=1)[1:, None]
    pred_sizes = counts.sum(axis=0)[None, 1:]
    intersection = counts[1:, 1:]
    return intersection / (true_sizes + pred_sizes - intersection + union_eps)


def _check_thresholds(thresholds: Sequence[float]) -> list[float]:
    values = [float(t) for t in np.atleast_1d(thresholds)]
    if not values or not all(0.0 < t <= 1.0 for t in values):
        raise ConfigError(f"IoU thresholds must lie in (0, 1], got {values}")
    return values


def _match_at(
    iou: np.ndarray,
    thresh: float,
    overlap: LabelOverlap,
    empty_score: float,
) -> MatchResult:
    n_true, n_pred = iou.shape
    n_matchable = min(n_true, n_pred)
    above = iou >= thresh
    pairs: list[tuple[int, int, float]] = []
    if n_matchable > 0 and above.any():
        cost = -above.astype(np.float64) - iou / (2 * n_matchable)
        rows, cols = linear_sum_assignment(cost)
        accepted = above[rows, cols]
        pairs = [
            (int(overlap.true_ids[r + 1]), int(overlap.pred_ids[c + 1]), float(iou[r, c]))
            for r, c in zip(rows[accepted], cols[accepted], strict=True)
        ]
    tp = len(pairs)
    iou_sum = float(sum(score for _, _, score in pairs))
    return MatchResult(
        thresh=thresh,
        tp=tp,
        fp=n_pred - tp,
        fn=n_true - tp,
        **matching_scores(tp, n_pred - tp, n_true - tp, iou_sum, empty_score),
        n_true=n_true,
        n_pred=n_pred,
        matched_pairs=pairs,
    )


def match_thresholds(
    true_labels: np.ndarray,
    pred_labels: np.ndarray,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    empty_score: float = EMPTY_SCORE,
    union_eps: float = 0.0,
) -> list[MatchResult]:
    """Match instances at several IoU thresholds, computing the overlap table once."""
    values = _check_thresholds(thresholds)
    overlap = label_overlap(true_labels, pred_labels)
    iou = iou_matrix(overlap, union_eps)
    return [_match_at(iou, thresh, overlap, empty_score) for thresh in values]


def match_instances(
    true_labels: np.ndarray,
    pred_labels: np.ndarray,
    thresh: float = 0.5,
    empty_score: float = EMPTY_SCORE,
    union_eps: float = 0.0,
) -> MatchResult:
    """Match the instances of two label images one-to-one at one IoU threshold."""
    return match_thresholds(true_labels, pred_labels, [thresh], empty_score, union_eps)[0]
