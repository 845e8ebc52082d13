"""The instance split is chosen on validation images after training and used by inference."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import FixedLogits, touching_discs
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.infer.instances import SCALED_MIN_SIZE_FRACTION, TUNED_SPLIT_KEY, run_split_options
from sagegan.models.checkpoint import read_training_info, resolve_checkpoint
from sagegan.train.config import InstanceConfig
from sagegan.train.runtime import Runtime
from sagegan.train.split_tuning import (
    DEPTH_FRACTIONS,
    MIN_GAIN,
    candidate_splits,
    choose_split,
    tune_run,
    tune_split,
)

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None)
PLANNED = {
    "min_size_px": 10,
    "min_distance_px": 3,
    "min_depth_px": 1.0,
    "min_size_fraction": 0.0,
    "min_depth_fraction": 0.0,
}


def _row(size: int, depth: float, f1: float) -> dict[str, float]:
    return {**PLANNED, "min_size_px": size, "min_depth_px": depth, "f1@0.5": f1}


def test_candidates_hold_the_planned_setting_and_its_neighbours():
    candidates = candidate_splits({**PLANNED, "min_depth_px": 3.0})
    sizes = sorted({c["min_size_px"] for c in candidates})
    depths = sorted({c["min_depth_px"] for c in candidates})
    assert sizes == [5, 10, 20]
    assert depths == [1.0, 2.0, 3.0, 4.0, 8.0, 16.0]
    scaled = [c for c in candidates if c["min_size_fraction"] > 0 and not c["min_depth_fraction"]]
    deep = [c for c in candidates if c["min_depth_fraction"] > 0]
    assert len(candidates) == len(sizes) * len(depths) + len(depths) + len(DEPTH_FRACTIONS)
    assert {c["min_size_px"] for c in scaled + deep} == {10}  # scaled from the planned size
    assert sorted(c["min_depth_px"] for c in scaled) == depths
    assert sorted(c["min_depth_fraction"] for c in deep) == sorted(DEPTH_FRACTIONS)
    assert all(c["min_size_fraction"] == SCALED_MIN_SIZE_FRACTION for c in deep)
    assert all(c["min_distance_px"] == 3 for c in candidates)


def test_a_gain_below_the_minimum_keeps_the_planned_setting():
    rows = [_row(10, 1.0, 0.5), _row(20, 8.0, 0.5 + MIN_GAIN / 2)]
    assert choose_split(rows, PLANNED) == PLANNED


def test_the_best_setting_wins_and_ties_go_to_shallower_smaller():
    rows = [_row(10, 1.0, 0.4), _row(20, 8.0, 0.6), _row(5, 4.0, 0.6), _row(20, 4.0, 0.6)]
    assert choose_split(rows, PLANNED) == {**PLANNED, "min_size_px": 5, "min_depth_px": 4.0}


def test_tuning_finds_the_depth_that_splits_touching_particles():
    truth = touching_discs(radius=10, spacing=20)
    logits = np.where(truth > 0, 8.0, -8.0).astype(np.float32)  # both discs, merged
    sample = SimpleNamespace(image=np.zeros(truth.shape, np.float32), labels=truth)
    too_deep = InstanceConfig(min_size_px=10, min_depth_px=16.0)

    tuning = tune_split(FixedLogits(logits), [sample], CPU, too_deep)

    fixed = [r for r in tuning.rows if not r["min_size_fraction"] and not r["min_depth_fraction"]]
    scores = {(r["min_size_px"], r["min_depth_px"]): r["f1@0.5"] for r in fixed}
    assert scores[(10, 16.0)] < 1.0  # one merged object
    assert tuning.chosen["min_depth_px"] < 16.0
    assert scores[(tuning.chosen["min_size_px"], tuning.chosen["min_depth_px"])] == 1.0
    assert tuning.images == 1
    assert "seed depth 16 -> 1 px" in tuning.summary()


def test_tuning_scales_the_smallest_object_when_specks_cost_f1():
    truth = touching_discs(radius=10, spacing=40, shape=(96, 96))  # two separate discs
    foreground = truth > 0
    for row in (5, 44, 80):  # three 4 x 4 specks the network also marks
        foreground[row : row + 4, 2:6] = True
    logits = np.where(foreground, 8.0, -8.0).astype(np.float32)
    sample = SimpleNamespace(image=np.zeros(truth.shape, np.float32), labels=truth)

    tuning = tune_split(FixedLogits(logits), [sample], CPU, InstanceConfig(min_size_px=4))

    assert tuning.chosen["min_size_fraction"] > 0  # doubling 4 px keeps 16 px specks; scaling not
    scores = {(r["min_size_px"], r["min_size_fraction"]): r["f1@0.5"] for r in tuning.rows}
    assert scores[(4, tuning.chosen["min_size_fraction"])] == 1.0 > scores[(8, 0.0)]
    assert run_split_options({TUNED_SPLIT_KEY: asdict(tuning)})["min_size_fraction"] > 0


def test_training_records_the_choice_and_inference_uses_it(tiny_run: tuple[Path, Path]):
    _, run = tiny_run
    info = read_training_info(resolve_checkpoint(run, "best") / "segmenter.safetensors")
    tuned = info[TUNED_SPLIT_KEY]
    assert tuned["images"] > 0
    assert {"min_size_px", "min_depth_px", "f1@0.5"} <= set(tuned["rows"][0])
    assert run_split_options(info) == {
        key: type(value)(tuned["chosen"][key])
        for key, value in run_split_options({"config": info["config"]}).items()
    }
    assert run_split_options(info, min_depth_px=5.0)["min_depth_px"] == 5.0


def test_a_tuned_choice_overrides_the_run_config():
    info = {
        "config": {"instances": PLANNED},
        TUNED_SPLIT_KEY: {"chosen": {**PLANNED, "min_size_px": 40, "min_depth_px": 8.0}},
    }
    assert run_split_options(info) == {
        "min_size_px": 40,
        "min_distance_px": 3,
        "min_depth_px": 8.0,
        "min_size_fraction": 0.0,
        "min_depth_fraction": 0.0,
    }


@pytest.mark.parametrize("tune", [True, False])
def test_the_tune_switch(tmp_path: Path, tune: bool):
    from sagegan.synth import write_dataset
    from sagegan.train import config_from_cli, train

    data = write_dataset(tmp_path / "data", n=5, size=(64, 64), seed=1, progress=False)
    overrides = {"instances.tune": tune, "pretrain.epochs": 1}
    train(data, tmp_path / "run", config_from_cli("tiny", None, overrides))
    info = json.loads((resolve_checkpoint(tmp_path / "run") / "info.json").read_text())
    assert (TUNED_SPLIT_KEY in info) == tune


def test_a_choice_made_before_a_kind_of_candidate_existed_is_made_again(
    tiny_run: tuple[Path, Path], tmp_path: Path
):
    data, shared = tiny_run
    run = tmp_path / "run"
    shutil.copytree(shared, run)
    info_path = resolve_checkpoint(run, "best") / "info.json"
    info = json.loads(info_path.read_text())
    rows = info[TUNED_SPLIT_KEY]["rows"]
    assert any(row["min_depth_fraction"] > 0 for row in rows)
    old = [
        {key: value for key, value in row.items() if key != "min_depth_fraction"}
        for row in rows
        if not row["min_depth_fraction"]
    ]
    info_path.write_text(
        json.dumps({**info, TUNED_SPLIT_KEY: {**info[TUNED_SPLIT_KEY], "rows": old}})
    )
    samples = [load_sample(pair) for pair in find_pairs(data)][:2]
    instances = InstanceConfig(**json.loads(info_path.read_text())["config"]["instances"])

    assert "best" in tune_run(run, samples, CPU, instances)  # tuned again, with every candidate
    retuned = json.loads(info_path.read_text())[TUNED_SPLIT_KEY]["rows"]
    assert any(row["min_depth_fraction"] > 0 for row in retuned)
    assert tune_run(run, samples, CPU, instances) == {}  # now up to date
