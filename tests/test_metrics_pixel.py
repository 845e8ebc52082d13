"""Pixel scores, count-based scores and HD95 on small hand-computed masks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sagegan.errors import ConfigError, DataError
from sagegan.metrics import hausdorff95, mask_boundary, pixel_scores, scores_from_counts


def square(shape=(32, 32), top=8, left=8, side=10) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_perfect_prediction_scores_one():
    mask = square()
    scores = pixel_scores(mask, mask)
    assert scores["dice"] == scores["iou"] == scores["precision"] == scores["recall"] == 1.0
    assert (scores["tp"], scores["fp"], scores["fn"], scores["tn"]) == (100, 0, 0, 32 * 32 - 100)


def test_empty_prediction_of_empty_truth_scores_one():
    empty = np.zeros((16, 16), dtype=np.uint8)
    scores = pixel_scores(empty, empty)
    assert scores["dice"] == scores["iou"] == scores["precision"] == scores["recall"] == 1.0
    assert scores["tn"] == 256


def test_empty_prediction_with_particles_scores_zero():
    scores = pixel_scores(np.zeros((32, 32), bool), square())
    assert scores["dice"] == scores["recall"] == scores["precision"] == 0.0
    assert scores["fn"] == 100


@pytest.mark.parametrize("shift", [1, 3, 6])
def test_shifted_square_matches_analytic_overlap(shift):
    truth = square()
    pred = square(left=8 + shift)
    scores = pixel_scores(pred, truth)
    overlap = 10 * (10 - shift)
    assert scores["tp"] == overlap
    assert scores["dice"] == pytest.approx(2 * overlap / 200)
    assert scores["iou"] == pytest.approx((10 - shift) / (10 + shift))


def test_valid_region_excludes_databar_pixels():
    truth = square()
    pred = truth.copy()
    pred[28:, :] = True
    valid = np.ones_like(truth)
    valid[28:, :] = False
    assert pixel_scores(pred, truth)["dice"] < 1.0
    scores = pixel_scores(pred, truth, valid=valid)
    assert scores["dice"] == 1.0
    assert scores["tp"] + scores["tn"] == 28 * 32


def test_mask_encodings_and_bad_inputs():
    truth = square()
    assert pixel_scores(truth.astype(np.uint8) * 255, truth)["dice"] == 1.0
    assert pixel_scores(truth.astype(np.float32), truth)["dice"] == 1.0
    with pytest.raises(DataError, match="binary mask"):
        pixel_scores(truth * 0.7, truth)
    with pytest.raises(DataError, match=r"prediction shape \(8, 8\) differs"):
        pixel_scores(np.zeros((8, 8), bool), truth)


def test_scores_from_counts_empty_and_zero_cases():
    names = ("precision", "recall", "accuracy", "f1")
    assert scores_from_counts(0, 0, 0) == dict.fromkeys(names, 1.0)
    assert scores_from_counts(0, 0, 0, empty_score=0.0)["f1"] == 0.0
    assert scores_from_counts(0, 3, 0)["precision"] == 0.0
    scores = scores_from_counts(2, 1, 3)
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 5)
    assert scores["accuracy"] == pytest.approx(2 / 6)
    assert scores["f1"] == pytest.approx(4 / 8)


def test_boundary_is_the_inner_four_connected_rim():
    boundary = mask_boundary(square(side=5))
    assert boundary.sum() == 16
    assert not boundary[10, 10]
    full = np.ones((4, 4), bool)
    assert mask_boundary(full).sum() == 12


@pytest.mark.parametrize("offset", [1, 2, 5])
@pytest.mark.parametrize("axis", [0, 1])
def test_hd95_of_offset_squares_is_the_offset(offset, axis):
    truth = square(shape=(40, 40), side=12)
    pred = np.roll(truth, offset, axis=axis)
    assert hausdorff95(pred, truth) == pytest.approx(offset)
    assert hausdorff95(truth, pred) == pytest.approx(offset)
    assert hausdorff95(pred, truth, pixel_size=2.5) == pytest.approx(2.5 * offset)


def test_hd95_ignores_an_outlier_below_five_percent_of_the_boundary():
    truth = square(shape=(60, 60), top=5, left=5, side=40)
    pred = truth.copy()
    pred[55:57, 55:57] = True
    assert hausdorff95(pred, truth) == 0.0
    pred[50:60, 48:60] = True
    assert hausdorff95(pred, truth) > 5.0


def test_hd95_empty_cases_and_bad_pixel_size():
    empty = np.zeros((16, 16), bool)
    assert hausdorff95(empty, empty) == 0.0
    assert math.isnan(hausdorff95(empty, square(shape=(16, 16), top=2, left=2, side=4)))
    assert math.isnan(hausdorff95(square(shape=(16, 16), top=2, left=2, side=4), empty))
    with pytest.raises(ConfigError):
        hausdorff95(empty, empty, pixel_size=0.0)
