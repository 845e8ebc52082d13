"""Pixel-level scores of a binary segmentation: Dice, IoU, precision, recall and the raw counts."""

from __future__ import annotations

import numpy as np

from sagegan.metrics.masks import as_binary_mask, check_same_shape
from sagegan.metrics.scores import scores_from_counts


def pixel_scores(
    pred_mask: np.ndarray, true_mask: np.ndarray, valid: np.ndarray | None = None
) -> dict:
    """Foreground Dice, IoU, precision and recall, with the pixel counts tp, fp, fn, tn.

    Non-zero pixels are foreground. ``valid`` (same shape) restricts every count to its non-zero
    pixels, e.g. to leave out an instrument databar. When neither mask has foreground, Dice, IoU,
    precision and recall are all 1 (the SAGE-GAN reference's Dice is 1 there too); otherwise a
    score with no true positive is 0 (see `sagegan.metrics.scores`).
    """
    pred = as_binary_mask(pred_mask, "prediction")
    true = as_binary_mask(true_mask, "truth")
    check_same_shape(pred, true, ("prediction", "truth"))
    if valid is not None:
        region = as_binary_mask(valid, "valid region")
        check_same_shape(region, true, ("valid region", "truth"))
        pred, true = pred[region], true[region]
    tp = int(np.count_nonzero(pred & true))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(true)) - tp
    tn = int(pred.size) - tp - fp - fn
    scores = scores_from_counts(tp, fp, fn)
    return {
        "dice": scores["f1"],
        "iou": scores["accuracy"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }
