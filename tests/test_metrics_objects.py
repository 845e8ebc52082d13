"""Instance overlap, IoU and one-to-one matching on hand-built label images."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sagegan.errors import ConfigError, DataError
from sagegan.metrics import (
    DEFAULT_THRESHOLDS,
    as_instance_labels,
    iou_matrix,
    label_overlap,
    labels_from_mask,
    match_instances,
    match_thresholds,
)


def paint(shape, boxes) -> np.ndarray:
    """Label image with box (label, top, left, height, width) painted in order."""
    labels = np.zeros(shape, dtype=np.int32)
    for label, top, left, height, width in boxes:
        labels[top : top + height, left : left + width] = label
    return labels


def test_default_thresholds_are_half_to_095_in_005_steps():
    assert DEFAULT_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_label_overlap_counts_pixels_per_pair():
    true = np.array([[0, 1, 1], [0, 7, 7], [0, 0, 7]])
    pred = np.array([[3, 3, 3], [0, 0, 3], [0, 0, 0]])
    overlap = label_overlap(true, pred)
    assert overlap.true_ids.tolist() == [0, 1, 7]
    assert overlap.pred_ids.tolist() == [0, 3]
    assert overlap.counts.tolist() == [[3, 1], [0, 2], [2, 1]]
    iou = iou_matrix(overlap)
    assert iou.shape == (2, 1)
    assert iou[0, 0] == pytest.approx(2 / 4)
    assert iou[1, 0] == pytest.approx(1 / 6)


def test_label_overlap_handles_huge_label_ids():
    small = paint((10, 10), [(1, 0, 0, 3, 3), (2, 5, 5, 4, 4)])
    huge = np.where(small == 0, 0, small.astype(np.int64) + 2**40)
    assert np.array_equal(label_overlap(small, huge).counts, label_overlap(small, small).counts)
    assert label_overlap(small, huge).pred_ids.tolist() == [0, 2**40 + 1, 2**40 + 2]
    no_background = np.array([[2**40, 2**40, 2**41]], dtype=np.int64)
    result = match_instances(no_background, no_background)
    assert (result.n_true, result.tp) == (2, 2)


def test_perfect_prediction_with_sparse_ids():
    true = paint((40, 40), [(5, 2, 2, 6, 6), (17, 20, 3, 8, 5), (300, 10, 25, 10, 10)])
    results = match_thresholds(true, true)
    assert [r.thresh for r in results] == list(DEFAULT_THRESHOLDS)
    for result in results:
        assert (result.tp, result.fp, result.fn) == (3, 0, 0)
        assert result.f1 == result.panoptic_quality == result.mean_true_score == 1.0
    assert sorted(results[0].matched_pairs) == [(5, 5, 1.0), (17, 17, 1.0), (300, 300, 1.0)]


def test_empty_truth_and_prediction_use_empty_score():
    empty = np.zeros((8, 8), dtype=np.int32)
    result = match_instances(empty, empty)
    assert (result.tp, result.fp, result.fn, result.n_true, result.n_pred) == (0, 0, 0, 0, 0)
    assert result.f1 == result.precision == result.recall == result.panoptic_quality == 1.0
    stardist_like = match_instances(empty, empty, empty_score=0.0)
    assert stardist_like.f1 == stardist_like.panoptic_quality == 0.0


def test_empty_prediction_has_zero_recall():
    true = paint((20, 20), [(1, 0, 0, 4, 4), (2, 10, 10, 4, 4)])
    result = match_instances(true, np.zeros_like(true))
    assert (result.tp, result.fp, result.fn) == (0, 0, 2)
    assert result.recall == result.precision == result.f1 == result.panoptic_quality == 0.0


def test_prediction_without_truth_is_all_false_positives():
    pred = paint((20, 20), [(1, 0, 0, 4, 4)])
    result = match_instances(np.zeros_like(pred), pred)
    assert (result.tp, result.fp, result.fn) == (0, 1, 0)
    assert result.f1 == 0.0


@pytest.mark.parametrize("shift", [1, 3, 4, 7])
def test_shifted_square_iou_is_analytic(shift):
    true = paint((30, 30), [(1, 5, 5, 10, 10)])
    pred = paint((30, 30), [(1, 5, 5 + shift, 10, 10)])
    expected = (10 - shift) / (10 + shift)
    assert iou_matrix(label_overlap(true, pred))[0, 0] == pytest.approx(expected)
    result = match_instances(true, pred, thresh=0.5)
    assert result.tp == int(expected >= 0.5)
    assert result.mean_matched_score == pytest.approx(expected if expected >= 0.5 else 0.0)


def test_one_big_prediction_covering_two_truths_matches_only_one():
    true = paint((20, 30), [(1, 5, 5, 10, 10), (2, 5, 15, 10, 10)])
    pred = paint((20, 30), [(9, 5, 5, 10, 20)])
    assert iou_matrix(label_overlap(true, pred)).ravel().tolist() == [0.5, 0.5]
    result = match_instances(true, pred, thresh=0.5)
    assert (result.tp, result.fp, result.fn) == (1, 0, 1)
    assert result.f1 == pytest.approx(2 / 3)
    assert result.panoptic_quality == pytest.approx(0.5 / 1.5)
    reference_like = match_instances(true, pred, thresh=0.5, union_eps=1e-6)
    assert reference_like.tp == 0


def test_worked_example_at_several_thresholds():
    true = paint(
        (64, 64),
        [(1, 2, 2, 10, 10), (2, 2, 30, 10, 10), (3, 30, 2, 10, 10), (4, 50, 20, 6, 6)],
    )
    pred = paint(
        (64, 64),
        [(1, 2, 2, 10, 10), (2, 2, 32, 10, 10), (3, 30, 7, 10, 10), (4, 40, 40, 5, 5)],
    )
    by_thresh = {r.thresh: r for r in match_thresholds(true, pred, [0.3, 0.5, 0.7, 1.0])}
    counts = {t: (r.tp, r.fp, r.fn) for t, r in by_thresh.items()}
    assert counts == {0.3: (3, 1, 1), 0.5: (2, 2, 2), 0.7: (1, 3, 3), 1.0: (1, 3, 3)}
    low = by_thresh[0.3]
    assert (low.precision, low.recall, low.f1) == pytest.approx((0.75, 0.75, 0.75))
    assert low.accuracy == pytest.approx(3 / 5)
    assert low.panoptic_quality == pytest.approx((1 + 2 / 3 + 1 / 3) / 4)
    assert low.mean_matched_score == pytest.approx(2 / 3)
    assert low.mean_true_score == pytest.approx(2 / 4)
    assert by_thresh[0.5].f1 == pytest.approx(0.5)
    assert by_thresh[0.5].panoptic_quality == pytest.approx((1 + 2 / 3) / 4)
    assert by_thresh[0.7].panoptic_quality == pytest.approx(0.25)
    assert sorted((t, p) for t, p, _ in by_thresh[0.5].matched_pairs) == [(1, 1), (2, 2)]


def test_optimal_matching_beats_greedy():
    true = paint((1, 20), [(1, 0, 0, 1, 10), (2, 0, 10, 1, 10)])
    pred = paint((1, 20), [(1, 0, 4, 1, 10), (2, 0, 0, 1, 4)])
    iou = iou_matrix(label_overlap(true, pred))
    assert iou[0, 0] > iou[0, 1] > iou[1, 0] > 0.2
    result = match_instances(true, pred, thresh=0.2)
    assert result.tp == 2
    assert sorted((t, p) for t, p, _ in result.matched_pairs) == [(1, 2), (2, 1)]


def test_matching_maximises_the_count_before_the_iou():
    true = paint((1, 20), [(1, 0, 0, 1, 10), (2, 0, 10, 1, 10)])
    pred = paint((1, 20), [(1, 0, 1, 1, 10), (2, 0, 0, 1, 1)])
    iou = iou_matrix(label_overlap(true, pred))
    assert iou[0, 0] > 0.8 > iou[0, 1] + iou[1, 0] and iou[1, 0] > 0.05
    result = match_instances(true, pred, thresh=0.05)
    assert result.tp == 2
    assert result.panoptic_quality == pytest.approx((iou[0, 1] + iou[1, 0]) / 2)


def random_labels(rng: np.random.Generator, n_boxes: int) -> np.ndarray:
    boxes = []
    for label in range(1, n_boxes + 1):
        top, left = rng.integers(0, 14, size=2)
        height, width = rng.integers(2, 8, size=2)
        boxes.append((label, top, left, height, width))
    return paint((16, 16), boxes)


def brute_force_matches(iou: np.ndarray, thresh: float) -> int:
    n_true, n_pred = iou.shape
    if n_true > n_pred:
        iou, (n_true, n_pred) = iou.T, (n_pred, n_true)
    return max(
        (
            sum(iou[i, j] >= thresh for i, j in zip(range(n_true), perm, strict=True))
            for perm in itertools.permutations(range(n_pred), n_true)
        ),
        default=0,
    )


def test_tp_is_the_largest_one_to_one_matching_on_random_labels():
    rng = np.random.default_rng(7)
    for _ in range(40):
        true = random_labels(rng, int(rng.integers(0, 5)))
        pred = random_labels(rng, int(rng.integers(0, 5)))
        iou = iou_matrix(label_overlap(true, pred))
        for result in match_thresholds(true, pred, [0.1, 0.3, 0.5, 0.7]):
            assert result.tp == brute_force_matches(iou, result.thresh)
            assert result.tp + result.fp == result.n_pred == iou.shape[1]
            assert result.tp + result.fn == result.n_true == iou.shape[0]
            assert all(score >= result.thresh for _, _, score in result.matched_pairs)


def test_labels_from_mask_connectivity():
    mask = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
    assert labels_from_mask(mask).max() == 2
    assert labels_from_mask(mask, connectivity=2).max() == 1
    with pytest.raises(ConfigError):
        labels_from_mask(mask, connectivity=3)


def test_as_instance_labels_keeps_labels_and_splits_masks():
    touching = paint((6, 6), [(1, 0, 0, 3, 3), (2, 0, 3, 3, 3)])
    assert np.array_equal(as_instance_labels(touching), touching)
    merged = as_instance_labels((touching > 0).astype(np.uint8) * 255)
    assert merged.max() == 1
    two_pieces = paint((6, 6), [(4, 0, 0, 2, 2), (4, 4, 4, 2, 2)])
    assert as_instance_labels(two_pieces).max() == 2
    with pytest.raises(DataError, match="non-negative"):
        as_instance_labels(touching - 1)
    with pytest.raises(DataError, match="whole numbers"):
        as_instance_labels(touching * 0.5)


def test_bad_thresholds_and_shapes_are_rejected():
    labels = paint((8, 8), [(1, 0, 0, 3, 3)])
    with pytest.raises(ConfigError, match="thresholds"):
        match_thresholds(labels, labels, [0.0])
    with pytest.raises(DataError, match="differs"):
        match_instances(labels, labels[:4])
    with pytest.raises(DataError, match="integer labels"):
        label_overlap(labels > 0, labels)


def test_overlap_of_a_full_size_image_with_a_thousand_particles():
    true = np.zeros((1780, 2560), dtype=np.int32)
    rows, cols = np.meshgrid(np.arange(0, 1760, 50), np.arange(0, 2540, 64), indexing="ij")
    for label, (top, left) in enumerate(zip(rows.ravel(), cols.ravel(), strict=True), start=1):
        true[top + 5 : top + 25, left + 5 : left + 25] = label
    n_objects = int(true.max())
    assert n_objects > 1000
    pred = np.roll(true, 2, axis=1)
    overlap = label_overlap(true, pred)
    assert overlap.counts.sum() == true.size
    assert overlap.counts.shape == (n_objects + 1, n_objects + 1)
    result = match_instances(true, pred, thresh=0.5)
    assert result.tp == n_objects
    assert result.mean_matched_score == pytest.approx(18 / 22)
