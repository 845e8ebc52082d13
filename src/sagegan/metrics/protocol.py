"""Evaluation protocols: how a prediction is compared with its annotation, image by image.

``"native"`` (the default, recommended): native resolution; the truth as annotated, its instance
labels kept when given (binary masks become 4-connected components, and so do predictions);
StarDist matching at IoU 0.50:0.05:0.95 with PQ; an image with neither true nor predicted
objects scores 1; pixel Dice and HD95.

``"paper"`` reproduces the SAGE-GAN reference's evaluation, so that numbers compare with the
paper's Dice 0.932 / F1 0.956:

* prediction and truth are resized to 512x768 (nearest neighbour exactly as PIL does it; the
  aspect ratio is squashed), and instance labels are collapsed to foreground;
* the truth is eroded with a 2x2 square (the pixel and its upper, left and upper-left neighbours,
  as ``cv2.erode`` anchors it; the image edge does not erode), then its 4-connected components of
  fewer than 15 pixels are removed;
* pixel Dice compares the whole prediction with that truth;
* objects are the 4-connected components of at least 15 pixels of both, matched as Cellpose and
  StarDist do with IoU computed as intersection / (union + 1e-6);
* an image with neither true nor predicted objects scores F1 = 0 (the reference's quirk);
  precision, recall and F1 are exact ratios (the reference's 1e-6 epsilons move them by ~1e-6),
  and the summary's macro means are per-image means (the reference averages batch means).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from sagegan.errors import ConfigError, DataError
from sagegan.metrics.aggregate import object_columns, pixel_columns, summarize
from sagegan.metrics.distance import hausdorff95
from sagegan.metrics.masks import as_binary_mask, check_same_shape
from sagegan.metrics.objects import (
    DEFAULT_THRESHOLDS,
    as_instance_labels,
    labels_from_mask,
    match_thresholds,
)
from sagegan.metrics.pixel import pixel_scores
from sagegan.metrics.scores import EMPTY_SCORE

PROTOCOLS = ("native", "paper")
PAPER_SIZE = (512, 768)
PAPER_MIN_OBJECT_PIXELS = 15
PAPER_UNION_EPS = 1e-6
PAPER_EMPTY_SCORE = 0.0
PAPER_THRESHOLDS = (0.5,)


def default_thresholds(protocol: str) -> tuple[float, ...]:
    """IoU thresholds a protocol reports when none are given."""
    return PAPER_THRESHOLDS if _checked_protocol(protocol) == "paper" else DEFAULT_THRESHOLDS


def _checked_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown evaluation protocol {protocol!r}; choose from {PROTOCOLS}")
    return protocol


def _pil_nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """Source index of each output pixel in PIL's nearest-neighbour resize: the centre position
    accumulated in double precision, then truncated."""
    scale = n_in / n_out
    steps = np.full(n_out, scale)
    steps[0] = scale / 2
    return np.cumsum(steps).astype(np.intp)


def resize_nearest(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D array to ``shape`` (rows, cols) by nearest neighbour, pixel-identical to
    ``PIL.Image.resize(..., Image.NEAREST)`` (and so to torchvision's Resize of a PIL mask)."""
    rows = _pil_nearest_index(mask.shape[0], shape[0])
    cols = _pil_nearest_index(mask.shape[1], shape[1])
    return mask[np.ix_(rows, cols)]


def erode_2x2(mask: np.ndarray) -> np.ndarray:
    """``cv2.erode(mask, np.ones((2, 2)))``: a pixel stays foreground only if it and its upper,
    left and upper-left neighbours are foreground; pixels outside the image count as foreground."""
    eroded = mask.copy()
    eroded[1:, :] &= mask[:-1, :]
    eroded[:, 1:] &= mask[:, :-1]
    eroded[1:, 1:] &= mask[:-1, :-1]
    return eroded


def components_at_least(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """4-connected component labels of a mask, with components under ``min_pixels`` set to 0
    (``skimage.morphology.remove_small_objects(min_size=min_pixels, connectivity=1)``)."""
    labels = labels_from_mask(mask)
    large = np.bincount(labels.ravel()) >= min_pixels
    large[0] = False
    return np.where(large[labels], labels, 0)


def _evaluate_paper(prediction: np.ndarray, truth: np.ndarray, thresholds: Sequence[float]) -> dict:
    pred_mask = resize_nearest(as_binary_mask(prediction, "prediction"), PAPER_SIZE)
    true_mask = erode_2x2(resize_nearest(as_binary_mask(truth, "truth"), PAPER_SIZE))
    true_labels = components_at_least(true_mask, PAPER_MIN_OBJECT_PIXELS)
    pred_labels = components_at_least(pred_mask, PAPER_MIN_OBJECT_PIXELS)
    matches = match_thresholds(
        true_labels, pred_labels, thresholds, PAPER_EMPTY_SCORE, PAPER_UNION_EPS
    )
    return {**pixel_columns(pixel_scores(pred_mask, true_labels > 0)), **object_columns(matches)}


def _evaluate_native(
    prediction: np.ndarray, truth: np.ndarray, thresholds: Sequence[float], pixel_size: float
) -> dict:
    pred_labels = as_instance_labels(prediction, "prediction")
    true_labels = as_instance_labels(truth, "truth")
    check_same_shape(pred_labels, true_labels, ("prediction", "truth"))
    pred_mask, true_mask = pred_labels > 0, true_labels > 0
    matches = match_thresholds(true_labels, pred_labels, thresholds)
    return {
        **pixel_columns(pixel_scores(pred_mask, true_mask)),
        **object_columns(matches),
        "hd95": hausdorff95(pred_mask, true_mask, pixel_size),
    }


def evaluate_image(
    prediction: np.ndarray,
    truth: np.ndarray,
    protocol: str = "native",
    thresholds: Sequence[float] | None = None,
    pixel_size: float = 1.0,
    name: str | None = None,
) -> dict:
    """One result row (see `sagegan.metrics.aggregate`) comparing a prediction with its truth.

    ``prediction`` and ``truth`` are binary masks or instance label images (2-D). ``thresholds``
    defaults to the protocol's (`default_thresholds`). ``pixel_size`` scales HD95 (native only).
    ``name`` is stored in the row's ``name`` column and names the image in errors.
    """
    _checked_protocol(protocol)
    thresholds = default_thresholds(protocol) if thresholds is None else thresholds
    try:
        if np.ndim(prediction) != 2 or np.ndim(truth) != 2:
            raise DataError(
                None,
                f"expected 2-D prediction and truth, got shapes {np.shape(prediction)} "
                f"and {np.shape(truth)}",
            )
        if protocol == "paper":
            row = _evaluate_paper(prediction, truth, thresholds)
        else:
            row = _evaluate_native(prediction, truth, thresholds, pixel_size)
    except DataError as error:
        if name is None:
            raise
        raise DataError(name, error.problem) from None
    return row if name is None else {"name": name, **row}


def evaluate_dataset(
    items: Iterable[tuple[str, np.ndarray, np.ndarray]],
    protocol: str = "native",
    thresholds: Sequence[float] | None = None,
    pixel_size: float = 1.0,
) -> tuple[list[dict], dict]:
    """Evaluate (name, prediction, truth) triples: (per-image rows, summary).

    The summary is `aggregate.summarize` of the rows plus ``protocol``. For a different pixel size
    per image, call `evaluate_image` per image and `summarize` the rows.
    """
    _checked_protocol(protocol)
    rows = [
        evaluate_image(prediction, truth, protocol, thresholds, pixel_size, name)
        for name, prediction, truth in items
    ]
    empty_score = PAPER_EMPTY_SCORE if protocol == "paper" else EMPTY_SCORE
    return rows, {"protocol": protocol, **summarize(rows, empty_score)}
