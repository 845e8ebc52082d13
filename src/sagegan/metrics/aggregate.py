"""Per-image result rows and their summary over a data set: macro means and pooled (micro) scores.

A row is a flat dict (one CSV line per image). Its columns:

* ``dice``, ``pixel_iou``, ``pixel_precision``, ``pixel_recall`` and the counts ``pixel_tp``,
  ``pixel_fp``, ``pixel_fn``, ``pixel_tn``;
* ``n_true``, ``n_pred`` and, per IoU threshold t written as ``@0.50``: ``precision@t``,
  ``recall@t``, ``accuracy@t``, ``f1@t``, ``pq@t``, ``mean_matched_iou@t``, ``mean_true_iou@t``
  and the counts ``tp@t``, ``fp@t``, ``fn@t``, ``matched_iou_sum@t``;
* optionally ``hd95`` (NaN where undefined) and any text column such as ``name``.

Macro (``<score>_mean``, ``<score>_sd``): every image weighs the same; sd is the sample standard
deviation (NaN with fewer than two images); NaN scores are left out and counted in
``<score>_n_undefined``, a key present only when some are. Pooled (``<score>_pooled``): counts
are summed over images first (pixel Dice over all pixels of the data set, object scores over all
objects, as StarDist's ``matching_dataset(by_image=False)``), so large or crowded images weigh
more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from sagegan.errors import DataError
from sagegan.metrics.objects import MatchResult
from sagegan.metrics.scores import EMPTY_SCORE, matching_scores, scores_from_counts

PIXEL_COUNTS = ("pixel_tp", "pixel_fp", "pixel_fn", "pixel_tn")
OBJECT_COUNTS = ("tp", "fp", "fn", "matched_iou_sum")
_OBJECT_SCORES = {
    "precision": "precision",
    "recall": "recall",
    "accuracy": "accuracy",
    "f1": "f1",
    "pq": "panoptic_quality",
    "mean_matched_iou": "mean_matched_score",
    "mean_true_iou": "mean_true_score",
}


def threshold_key(metric: str, thresh: float) -> str:
    """Column name of a metric at an IoU threshold, e.g. ``f1@0.50``."""
    text = f"{thresh:.2f}" if abs(thresh - round(thresh, 2)) < 1e-9 else f"{thresh:g}"
    return f"{metric}@{text}"


def pixel_columns(scores: Mapping[str, float]) -> dict:
    """Row columns from a `pixel_scores` result."""
    return {
        "dice": scores["dice"],
        "pixel_iou": scores["iou"],
        "pixel_precision": scores["precision"],
        "pixel_recall": scores["recall"],
        **{key: scores[key.removeprefix("pixel_")] for key in PIXEL_COUNTS},
    }


def object_columns(matches: Sequence[MatchResult]) -> dict:
    """Row columns from the `match_thresholds` results of one image."""
    row: dict = {"n_true": matches[0].n_true, "n_pred": matches[0].n_pred}
    for match in matches:
        for column, field in _OBJECT_SCORES.items():
            row[threshold_key(column, match.thresh)] = getattr(match, field)
        for column in ("tp", "fp", "fn"):
            row[threshold_key(column, match.thresh)] = getattr(match, column)
        row[threshold_key("matched_iou_sum", match.thresh)] = match.sum_matched_score
    return row


def _is_count(key: str) -> bool:
    return key in (*PIXEL_COUNTS, "n_true", "n_pred") or key.split("@")[0] in OBJECT_COUNTS


def _checked(rows: Sequence[Mapping[str, object]]) -> list[str]:
    """Column names shared by all rows (DataError when there are no rows or they differ)."""
    if not rows:
        raise DataError(None, "no per-image results to summarize")
    keys = list(rows[0])
    for index, row in enumerate(rows):
        if set(row) != set(keys):
            raise DataError(None, f"result row {index} has other columns than row 0")
    return keys


def per_image_mean(rows: Sequence[Mapping[str, object]]) -> dict:
    """Macro summary: mean and sample sd over images of every score column."""
    summary: dict = {}
    for key in _checked(rows):
        if _is_count(key) or isinstance(rows[0][key], str):
            continue
        values = np.array([row[key] for row in rows], dtype=np.float64)
        defined = values[~np.isnan(values)]
        summary[f"{key}_mean"] = float(defined.mean()) if defined.size else float("nan")
        summary[f"{key}_sd"] = float(defined.std(ddof=1)) if defined.size > 1 else float("nan")
        if defined.size < values.size:
            summary[f"{key}_n_undefined"] = int(values.size - defined.size)
    return summary


def pooled(rows: Sequence[Mapping[str, object]], empty_score: float = EMPTY_SCORE) -> dict:
    """Micro summary: counts summed over images, then scores. Object scores are ``empty_score``
    when the whole data set has neither true nor predicted objects; pixel scores are 1 then."""
    keys = _checked(rows)

    def total(key: str) -> float:
        return sum(row[key] for row in rows)

    summary: dict = {}
    if "pixel_tp" in keys:
        pixel = scores_from_counts(total("pixel_tp"), total("pixel_fp"), total("pixel_fn"))
        summary["dice_pooled"] = pixel["f1"]
        summary["pixel_iou_pooled"] = pixel["accuracy"]
        summary["pixel_precision_pooled"] = pixel["precision"]
        summary["pixel_recall_pooled"] = pixel["recall"]
    if "n_true" in keys:
        summary["n_true_total"] = int(total("n_true"))
        summary["n_pred_total"] = int(total("n_pred"))
    for key in keys:
        if not key.startswith("tp@"):
            continue
        suffix = key.removeprefix("tp")
        tp, fp, fn = (int(total(f"{name}{suffix}")) for name in ("tp", "fp", "fn"))
        scores = matching_scores(tp, fp, fn, total(f"matched_iou_sum{suffix}"), empty_score)
        for column, field in _OBJECT_SCORES.items():
            summary[f"{column}{suffix}_pooled"] = scores[field]
    return summary


def summarize(rows: Sequence[Mapping[str, object]], empty_score: float = EMPTY_SCORE) -> dict:
    """``n_images`` with the macro (`per_image_mean`) and pooled (`pooled`) summaries."""
    return {"n_images": len(rows), **per_image_mean(rows), **pooled(rows, empty_score)}
