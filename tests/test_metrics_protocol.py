"""Evaluation protocols (native and the reference's "paper" way) and data-set summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from sagegan.errors import ConfigError, DataError
from sagegan.metrics import (
    evaluate_dataset,
    evaluate_image,
    per_image_mean,
    pooled,
    summarize,
    threshold_key,
)
from sagegan.metrics.protocol import components_at_least, erode_2x2, resize_nearest

PAPER_SHAPE = (512, 768)


def paint(shape, boxes) -> np.ndarray:
    labels = np.zeros(shape, dtype=np.int32)
    for label, top, left, height, width in boxes:
        labels[top : top + height, left : left + width] = label
    return labels


@pytest.mark.parametrize(
    ("source", "target"),
    [((1780, 2560), PAPER_SHAPE), ((97, 131), PAPER_SHAPE), ((768, 1024), (500, 37))],
)
def test_resize_nearest_is_pixel_identical_to_pil(source, target):
    image = np.random.default_rng(3).integers(0, 256, size=source, dtype=np.uint8)
    expected = np.asarray(Image.fromarray(image).resize(target[::-1], Image.NEAREST))
    assert np.array_equal(resize_nearest(image, target), expected)


def test_erode_2x2_removes_top_row_and_left_column():
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:4, 1:4] = True
    expected = np.zeros((6, 6), dtype=bool)
    expected[2:4, 2:4] = True
    assert np.array_equal(erode_2x2(mask), expected)
    full = np.ones((4, 5), dtype=bool)
    assert np.array_equal(erode_2x2(full), full)
    notched = np.ones((3, 3), dtype=bool)
    notched[0, 0] = False
    expected = np.array([[0, 0, 1], [0, 0, 1], [1, 1, 1]], dtype=bool)
    assert np.array_equal(erode_2x2(notched), expected)


def test_components_below_15_pixels_are_removed():
    mask = paint((20, 40), [(1, 0, 0, 2, 7), (1, 5, 0, 3, 5), (1, 10, 10, 1, 15)]) > 0
    sizes = np.bincount(components_at_least(mask, 15).ravel())[1:]
    assert sorted(sizes[sizes > 0]) == [15, 15]


def test_native_perfect_prediction_scores_one_everywhere():
    truth = paint((64, 64), [(1, 5, 5, 10, 10), (2, 30, 30, 12, 8)])
    row = evaluate_image(truth, truth, name="img")
    assert row["name"] == "img"
    assert row["dice"] == row["f1@0.50"] == row["f1@0.95"] == row["pq@0.75"] == 1.0
    assert row["hd95"] == 0.0
    assert (row["n_true"], row["n_pred"]) == (2, 2)


def test_paper_protocol_drops_small_objects_and_erodes_truth():
    truth = paint(PAPER_SHAPE, [(1, 100, 100, 20, 20), (2, 300, 300, 3, 3)])
    native = evaluate_image(truth, truth, protocol="native")
    paper = evaluate_image(truth, truth, protocol="paper")
    assert native["n_true"] == 2
    assert native["dice"] == native["f1@0.50"] == 1.0
    assert (paper["n_true"], paper["n_pred"]) == (1, 1)
    assert paper["dice"] == pytest.approx(2 * 361 / (409 + 361))
    assert paper["f1@0.50"] == 1.0
    assert paper["mean_matched_iou@0.50"] == pytest.approx(361 / 400)
    assert "hd95" not in paper
    assert list(k for k in paper if k.startswith("f1@")) == ["f1@0.50"]


def test_paper_protocol_rejects_iou_of_exactly_one_half():
    truth = paint(PAPER_SHAPE, [(1, 100, 100, 21, 41)])
    pred = paint(PAPER_SHAPE, [(1, 101, 101, 20, 20)])
    paper = evaluate_image(pred, truth, protocol="paper", thresholds=[0.49, 0.5])
    assert paper["mean_matched_iou@0.49"] == pytest.approx(0.5)
    assert (paper["tp@0.49"], paper["tp@0.50"]) == (1, 0)


def test_paper_protocol_resizes_and_merges_touching_instances():
    truth = paint((256, 384), [(1, 50, 50, 20, 20), (2, 50, 70, 20, 20)])
    native = evaluate_image(truth, truth)
    paper = evaluate_image(truth, truth, protocol="paper")
    assert native["n_true"] == 2
    assert paper["n_true"] == paper["n_pred"] == 1
    assert paper["pixel_tp"] == 39 * 79


def test_empty_image_scores_f1_one_natively_and_zero_in_paper_protocol():
    empty = np.zeros(PAPER_SHAPE, dtype=np.uint8)
    native = evaluate_image(empty, empty)
    paper = evaluate_image(empty, empty, protocol="paper")
    assert native["f1@0.50"] == 1.0
    assert paper["f1@0.50"] == 0.0
    assert native["dice"] == paper["dice"] == 1.0


def test_pooled_and_per_image_scores_differ():
    one = paint((32, 32), [(1, 2, 2, 4, 4)])
    nine = paint((32, 32), [(i + 1, 2 + 10 * (i // 3), 2 + 10 * (i % 3), 4, 4) for i in range(9)])
    rows, summary = evaluate_dataset(
        [("one", one, one), ("nine", np.zeros_like(nine), nine)], thresholds=[0.5]
    )
    assert [row["name"] for row in rows] == ["one", "nine"]
    assert summary["f1@0.50_mean"] == pytest.approx(0.5)
    assert summary["f1@0.50_pooled"] == pytest.approx(2 / 11)
    assert summary["dice_mean"] == pytest.approx(0.5)
    assert summary["dice_pooled"] == pytest.approx(2 * 16 / (2 * 16 + 9 * 16))
    assert summary["f1@0.50_sd"] == pytest.approx(np.std([1.0, 0.0], ddof=1))
    assert (summary["n_images"], summary["n_true_total"], summary["protocol"]) == (2, 10, "native")
    assert summary["hd95_n_undefined"] == 1
    assert summary["hd95_mean"] == 0.0


def test_pooled_panoptic_quality_sums_iou_over_images():
    truth = paint((30, 30), [(1, 5, 5, 10, 10)])
    shifted = paint((30, 30), [(1, 5, 7, 10, 10)])
    rows = [evaluate_image(truth, truth), evaluate_image(shifted, truth)]
    assert pooled(rows)[f"{threshold_key('pq', 0.5)}_pooled"] == pytest.approx((1 + 8 / 12) / 2)
    assert per_image_mean(rows)["pq@0.50_mean"] == pytest.approx((1 + 8 / 12) / 2)


def test_errors_name_the_image_and_problem():
    truth = paint((16, 16), [(1, 2, 2, 4, 4)])
    with pytest.raises(DataError, match=r"^b\.png: prediction shape \(8, 16\) differs"):
        evaluate_dataset([("a.png", truth, truth), ("b.png", truth[:8], truth)])
    with pytest.raises(ConfigError, match="protocol"):
        evaluate_image(truth, truth, protocol="cellpose")
    with pytest.raises(DataError, match="no per-image results"):
        summarize([])
    with pytest.raises(DataError, match="2-D"):
        evaluate_image(truth[None], truth[None])


@pytest.mark.real_data
def test_real_mask_against_itself(pdc_sem):
    from sagegan.data.io import read_mask

    truth = read_mask(pdc_sem / "masks" / "ngc_1.png")
    native = evaluate_image(truth, truth)
    paper = evaluate_image(truth, truth, protocol="paper")
    assert native["dice"] == native["f1@0.95"] == 1.0
    assert native["n_true"] == int(truth.max()) > 100
    assert paper["dice"] < 1.0
    assert 0.0 < paper["f1@0.50"] <= 1.0
    assert not math.isnan(native["hd95"])
