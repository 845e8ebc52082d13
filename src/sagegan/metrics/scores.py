"""Precision, recall, accuracy and F1 from true/false positive and false negative counts.

One rule for degenerate cases is shared by the pixel and object metrics and by pooling:

* As in StarDist, every score is 0 when there is no true positive (``tp == 0``).
* The exception is an image (or data set) where there is nothing to find and nothing was found
  (``tp == fp == fn == 0``): every score is then ``empty_score``. The default 1.0 calls a correct
  empty prediction perfect. StarDist returns 0 there; the SAGE-GAN reference returns 1 for its
  Dice and 0 for its object F1, so the paper protocol passes ``empty_score=0.0`` for objects.
"""

from __future__ import annotations

EMPTY_SCORE = 1.0


def scores_from_counts(tp: int, fp: int, fn: int, empty_score: float = EMPTY_SCORE) -> dict:
    """Return precision, recall, accuracy = tp/(tp+fp+fn) and f1 = 2tp/(2tp+fp+fn).

    For pixels, accuracy is the IoU (Jaccard) and f1 the Dice coefficient.
    """
    if tp == 0:
        score = float(empty_score) if fp == 0 and fn == 0 else 0.0
        return {"precision": score, "recall": score, "accuracy": score, "f1": score}
    return {
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "accuracy": tp / (tp + fp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
    }


def matching_scores(
    tp: int, fp: int, fn: int, matched_iou_sum: float, empty_score: float = EMPTY_SCORE
) -> dict:
    """Object scores of a matching: the four of `scores_from_counts` plus mean_true_score
    (IoU sum / n_true), mean_matched_score (IoU sum / tp) and panoptic_quality
    (IoU sum / (tp + fp/2 + fn/2)), each 0 when its denominator is 0."""
    scores = scores_from_counts(tp, fp, fn, empty_score)
    if tp == 0 and fp == 0 and fn == 0:
        empty = float(empty_score)
        return {
            **scores,
            "mean_true_score": empty,
            "mean_matched_score": empty,
            "panoptic_quality": empty,
        }
    n_true = tp + fn
    return {
        **scores,
        "mean_true_score": matched_iou_sum / n_true if n_true else 0.0,
        "mean_matched_score": matched_iou_sum / tp if tp else 0.0,
        "panoptic_quality": matched_iou_sum / (tp + fp / 2 + fn / 2),
    }
