"""PredictionOptions: validated once with one-line errors, resolved against a run's training
settings, and one settings record shared by segment and evaluate."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from sagegan.errors import ConfigError
from sagegan.evaluate import evaluate_run
from sagegan.infer import PredictionOptions, segment_images

SETTINGS_KEYS = {"tile", "overlap", "tta", "threshold", "databar", "scale", "instances", "backend"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tile": (0, 64)}, "tile must be two positive integers (height, width), got (0, 64)"),
        ({"overlap": 1.0}, "overlap must be in [0, 1), got 1.0"),
        ({"batch_size": 0}, "batch size must be at least 1, got 0"),
        ({"tta": "rotate"}, "unknown TTA mode 'rotate' (choose from none, flips)"),
        ({"threshold": 1.0}, "threshold must be in [0, 1), got 1.0"),
        ({"threshold": -0.1}, "threshold must be in [0, 1), got -0.1"),
        ({"min_size_px": -1}, "min_size_px must be >= 0, got -1"),
        ({"min_distance_px": 0}, "min_distance_px must be at least 1, got 0"),
        ({"min_depth_px": -1.0}, "min_depth_px must be >= 0, got -1.0"),
        ({"min_size_fraction": 1.5}, "min_size_fraction must be in [0, 1], got 1.5"),
        ({"device": "tpu"}, "--device tpu: unknown device (choose auto, cpu, cuda or cuda:N)"),
        (
            {"backend": "tensorrt"},
            "unknown backend 'tensorrt' (choose from torch, eager, onnx, auto)",
        ),
        ({"precision": "fp8"}, "unknown precision 'fp8' (choose from fp32, bf16, auto)"),
        ({"backend": "eager", "precision": "bf16"}, "precision bf16 needs the torch backend"),
        ({"pixel_size_nm": 0.0}, "pixel size must be positive, got 0.0"),
        ({"pixel_size_nm": -2.5}, "pixel size must be positive, got -2.5"),
    ],
)
def test_each_bad_value_is_a_one_line_error(options: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        PredictionOptions(**options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_options_are_frozen_and_tiles_are_integers() -> None:
    options = PredictionOptions(tile=[64.0, 96])
    assert options.tile == (64, 96) and all(type(size) is int for size in options.tile)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.threshold = 0.9  # type: ignore[misc]


def test_unset_options_take_the_runs_training_settings() -> None:
    info = {
        "config": {
            "data": {"databar": 40},
            "instances": {"min_size_px": 5, "min_size_fraction": 0.3},
        },
        "instances_tuned": {"chosen": {"min_depth_px": 2.5}},
    }
    options = PredictionOptions()
    assert options.databar_for(info) == 40
    assert options.split_options_for(info) == {
        "min_distance_px": 3,
        "min_size_px": 5,
        "min_depth_px": 2.5,
        "min_size_fraction": 0.3,
        "min_depth_fraction": 0.0,
    }
    given = PredictionOptions(
        databar="none", min_size_px=0, min_distance_px=7, min_size_fraction=0.0
    )
    assert given.databar_for(info) == "none"
    assert given.split_options_for(info) == {
        "min_distance_px": 7,
        "min_size_px": 0,
        "min_depth_px": 2.5,
        "min_size_fraction": 0.0,
        "min_depth_fraction": 0.0,
    }
    assert PredictionOptions().databar_for({}) == "auto"


def test_a_bad_split_setting_of_the_run_is_refused() -> None:
    info = {"config": {"instances": {"min_distance_px": 0}}}
    with pytest.raises(ConfigError, match="min_distance_px must be at least 1, got 0"):
        PredictionOptions().split_options_for(info)


def test_settings_record_what_was_used() -> None:
    options = PredictionOptions(tile=(64, 96), overlap=0.5, tta="flips", threshold=0.3)
    settings = options.settings({"config": {"data": {"databar": "none"}}}, onnx="m.onnx")
    assert set(settings) == SETTINGS_KEYS
    assert settings["tile"] == [64, 96] and settings["overlap"] == 0.5
    assert settings["tta"] == "flips" and settings["threshold"] == 0.3
    assert settings["databar"] == "none" and settings["scale"] == 1.0  # native unless trained so
    assert settings["instances"] == {
        "min_distance_px": 3,
        "min_size_px": 10,
        "min_depth_px": 1.0,
        "min_size_fraction": 0.0,
        "min_depth_fraction": 0.0,
    }
    assert settings["backend"] == {"name": "torch", "precision": "fp32", "onnx": "m.onnx"}
    json.dumps(settings)  # written as JSON by every output


def test_segment_and_evaluate_write_the_same_settings(
    tiny_run: tuple[Path, Path], tmp_path: Path
) -> None:
    data, run = tiny_run
    options = PredictionOptions(tile=(64, 64), threshold=0.4, min_size_px=3, databar="none")
    image = sorted((data / "images").iterdir())[0]
    segment_images([image], run, tmp_path / "seg", options, progress=False)
    per_image = json.loads((tmp_path / "seg" / f"{image.stem}.json").read_text())
    evaluate_run(run, data, out=tmp_path / "eval", options=options, progress=False)
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())["settings"]
    assert "databar_mode" not in per_image
    for key in SETTINGS_KEYS:
        assert per_image[key] == evaluated[key], key
    assert evaluated["databar"] == "none" and evaluated["instances"]["min_size_px"] == 3
    assert evaluated["threshold"] == 0.4 and evaluated["predictor"] == "model"
