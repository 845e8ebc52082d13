"""Stage 1's moving average of the segmenter's weights (``pretrain.ema``): what it averages,
what the checkpoints hold and that a resumed run ends as the uninterrupted one."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from conftest import killed_then_resumed, same_weights
from sagegan.errors import ConfigError
from sagegan.models.checkpoint import load_weights, resolve_checkpoint
from sagegan.synth import write_dataset
from sagegan.train.api import train
from sagegan.train.config import config_from_cli
from sagegan.train.weight_average import move_average, warmed_decay

OVERRIDES = {
    "pretrain.epochs": 3,
    "pretrain.ema": 0.9,
    "gan.epochs": 0,
    "runtime.grid_every": 100,
    "runtime.attention_every": 100,
}


def test_the_average_moves_by_the_warmed_decay_and_copies_buffers():
    assert warmed_decay(0.999, 0) == pytest.approx(0.1)
    assert warmed_decay(0.999, 90) == pytest.approx(0.91)
    assert warmed_decay(0.9, 10_000) == 0.9
    live, average = nn.BatchNorm2d(3), nn.BatchNorm2d(3)
    with torch.no_grad():
        live.weight.fill_(2.0)
        live.running_mean.fill_(5.0)
    move_average(average, live, 0.75)
    assert torch.allclose(average.weight, torch.full((3,), 0.75 * 1.0 + 0.25 * 2.0))
    assert torch.equal(average.running_mean, live.running_mean)


def test_an_ema_outside_zero_to_one_is_a_config_error():
    with pytest.raises(ConfigError, match=r"pretrain\.ema must be in \[0, 1\)"):
        config_from_cli("tiny", None, {"pretrain.ema": 1.0})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, n=8, size=(64, 64), seed=3, progress=False)
    return root


def _segmenter(run) -> dict[str, torch.Tensor]:
    return load_weights(resolve_checkpoint(run, "last") / "segmenter.safetensors")[0]


def _trained(run) -> dict[str, torch.Tensor]:
    state = torch.load(resolve_checkpoint(run, "last") / "state.pt", weights_only=True)
    return state["stage_state"]["trained_segmenter"]


def test_checkpoints_hold_the_average_and_a_resumed_run_ends_as_the_straight_one(
    data_dir, tmp_path, monkeypatch
):
    straight = tmp_path / "straight"
    train(data_dir, straight, config_from_cli("tiny", None, OVERRIDES))
    average, trained = _segmenter(straight), _trained(straight)
    assert average.keys() == trained.keys()
    assert any(not torch.equal(average[k], trained[k]) for k in average)
    plain = tmp_path / "plain"
    train(data_dir, plain, config_from_cli("tiny", None, {**OVERRIDES, "pretrain.ema": 0.0}))
    assert all(torch.equal(trained[k], v) for k, v in _segmenter(plain).items())

    resumed = tmp_path / "resumed"
    killed_then_resumed(monkeypatch, data_dir, resumed, config_from_cli("tiny", None, OVERRIDES), 2)
    assert same_weights(straight, resumed, ("segmenter",), ("last", "best"))
    assert all(torch.equal(_trained(resumed)[k], v) for k, v in trained.items())
    records = [json.loads(line) for line in (resumed / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r.get("stage") == "pretrain"] == [-1, 0, 1, 2]
