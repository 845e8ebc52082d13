"""benchmarks/learning_curve.py: the validation curve and cost of a run, from its log."""

from __future__ import annotations

import json

import pytest

from conftest import benchmark_script


@pytest.fixture(scope="module")
def learning_curve():
    return benchmark_script("learning_curve").learning_curve


def test_curve_counts_iterations_and_the_time_spent_validating(learning_curve, tmp_path):
    records = [
        {"stage": "pretrain", "epoch": -1, "val": {"dice": 0.1}, "seconds": {"validation": 10.0}},
        {
            "stage": "pretrain",
            "epoch": 0,
            "losses": {"seg": 1.0},
            "val": {"dice": 0.5, "f1@0.5": 0.2},
            "seconds": {"train": 80.0, "epoch": 90.0},
        },
        {
            "stage": "pretrain",
            "epoch": 1,
            "losses": {"seg": 0.5},
            "val": {"dice": 0.7, "f1@0.5": 0.4},
            "seconds": {"train": 80.0, "epoch": 100.0},
            "stopped": "time budget",
        },
        {"stage": "gan", "epoch": 0, "losses": {}, "val": {}, "seconds": {"train": 1, "epoch": 2}},
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (tmp_path / "plan.json").write_text(json.dumps({"plan": {"iterations_per_epoch": 50}}))
    curve = learning_curve(tmp_path)
    assert [row["iterations"] for row in curve["rows"]] == [50, 100]
    assert [row["dice"] for row in curve["rows"]] == [0.5, 0.7]
    assert curve["rows"][-1]["stopped"] == "time budget"
    assert curve["validation_share"] == pytest.approx(1 - 160 / 200)
