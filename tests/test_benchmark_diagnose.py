"""benchmarks/diagnose.py: one failure label per evaluated image."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def failure_label():
    return benchmark_script("diagnose").failure_label


def _row(tp, fp, fn, n_true, n_pred, f1, dice=0.5):
    precision = tp / max(tp + fp, 1)
    return {
        "pixel_tp": tp,
        "pixel_fp": fp,
        "pixel_fn": fn,
        "pixel_precision": precision,
        "n_true": n_true,
        "n_pred": n_pred,
        "f1@0.50": f1,
        "dice": dice,
    }


@pytest.mark.parametrize(
    ("row", "label"),
    [
        (_row(5, 0, 100, 10, 1, 0.0), "empty"),
        (_row(90, 400, 10, 10, 12, 0.1), "background"),
        (_row(90, 10, 10, 10, 3, 0.2), "merged"),
        (_row(90, 10, 10, 10, 30, 0.2), "split"),
        (_row(90, 10, 10, 10, 10, 0.8), "ok"),
        (_row(90, 10, 10, 10, 10, 0.3, dice=0.9), "shapes"),
        (_row(50, 50, 50, 10, 10, 0.3, dice=0.5), "poor"),
    ],
)
def test_each_failure_gets_its_label(failure_label, row, label):
    assert failure_label(row) == label


def test_truth_description_counts_particles_under_the_default_floor():
    describe = benchmark_script("diagnose").truth_description
    labels = np.zeros((40, 40), np.int32)
    labels[2:4, 2:4] = 1  # 4 px
    labels[10:13, 10:13] = 2  # 9 px
    labels[20:30, 20:30] = 3  # 100 px
    image = np.where(labels > 0, 0.5, -0.5).astype(np.float32)
    described = describe(image, labels)
    assert described["small_share"] == 2 / 3
    assert described["contrast"] == "bright"
