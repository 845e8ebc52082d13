"""benchmarks/instance_options.py: validation F1 of a run for each instance-split setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import benchmark_script
from sagegan.data.splits import make_split, save_split
from sagegan.synth import write_dataset
from sagegan.train.api import train
from sagegan.train.config import config_from_cli


def test_scores_every_setting_on_the_validation_split(tmp_path):
    data = write_dataset(tmp_path / "data", n=6, size=(64, 64), seed=0, progress=False)
    overrides = {"data.boundary_px": 1, "gan.epochs": 0, "runtime.progress": False}
    run = tmp_path / "run"
    train(data, run, config_from_cli("tiny", None, overrides))
    script = benchmark_script("instance_options")
    chosen = {"min_sizes": [3, 40], "min_depths": [1.0]}
    result = script.score_run(run, data, chosen, "best")
    seeds = [(row["seeds"], row["min_size_px"]) for row in result["rows"]]
    assert seeds == [("distance", 3), ("distance", 40), ("boundary", 3), ("boundary", 40)]
    assert result["images"] >= 1 and 0.0 <= result["dice"] <= 1.0
    for small, large in (result["rows"][:2], result["rows"][2:]):
        assert 0.0 <= small["f1@0.5"] <= 1.0
        assert small["predicted"] >= large["predicted"]  # a larger floor keeps fewer objects
    scaled = script.score_run(
        run, data, {**chosen, "depth_fractions": (0.0, 0.25)}, "best", part="test"
    )
    rows = [(row["seeds"], row["min_size_px"], row["min_depth_fraction"]) for row in scaled["rows"]]
    assert rows[:2] == [("distance", 3, 0.0), ("distance", 3, 0.25)] and len(rows) == 8
    assert all(row["min_size_fraction"] == 0.0 for row in scaled["rows"])
    thresholds = script.score_run(run, data, {**chosen, "thresholds": (0.3, 0.5)}, "best")
    rows = [(row["seeds"], row["min_size_px"], row["threshold"]) for row in thresholds["rows"]]
    assert rows[:2] == [("distance", 3, 0.3), ("distance", 3, 0.5)] and len(rows) == 8
    at_half = [row for row in thresholds["rows"] if row["threshold"] == 0.5]
    assert all(row["dice"] == thresholds["dice"] for row in at_half)  # the mask Dice is scored on
    cuts = script.score_run(run, data, {**chosen, "boundary_thresholds": (0.2, 0.5)}, "best")
    rows = [(row["seeds"], row["boundary_threshold"]) for row in cuts["rows"]]
    assert rows == [("distance", 0.5)] * 2 + [("boundary", 0.2)] * 2 + [("boundary", 0.5)] * 2
    at_default = [row for row in cuts["rows"] if row["seeds"] == "boundary"][2:]
    assert [row["f1@0.5"] for row in at_default] == [row["f1@0.5"] for row in result["rows"][2:]]


def test_the_builtin_model_is_scored_on_a_given_split(tmp_path):
    script = benchmark_script("instance_options")
    split = make_split([f"image{i}" for i in range(10)], seed=0)
    save_split(split, tmp_path / "split.json")
    model, training, stems = script.run_images(
        Path("builtin"), "best", "val", tmp_path / "split.json"
    )
    assert stems == split.val and model.head.out_channels == 2
    assert training["config"]["instances"]  # the shipped split settings come with it
    with pytest.raises(SystemExit, match="give --split-file"):
        script.run_images(Path("builtin"), "best", "test")
    data = write_dataset(tmp_path / "data", n=6, size=(64, 64), seed=0, progress=False)
    save_split(make_split([f"synth_{i:04d}" for i in range(6)], seed=0), tmp_path / "sim.json")
    chosen = {"min_sizes": [4], "min_depths": [1.0]}
    result = script.score_run(Path("builtin"), data, chosen, "best", "val", tmp_path / "sim.json")
    assert result["images"] >= 1 and [row["seeds"] for row in result["rows"]] == [
        "distance",
        "boundary",
    ]


def test_a_centre_map_adds_rows_seeded_by_its_maxima():
    script = benchmark_script("instance_options")
    rows = script.settings([10], [1.0], heads=3, centre_thresholds=(0.3, 0.5))
    seeds = [(row["seeds"], row["boundary_threshold"], row["centre_threshold"]) for row in rows]
    assert seeds == [
        ("distance", 0.5, 0.5),
        ("boundary", 0.5, 0.5),
        ("centre", 0.5, 0.3),
        ("centre", 0.5, 0.5),
    ]
    assert [row["seeds"] for row in script.settings([10], [1.0], heads=1)] == ["distance"]
