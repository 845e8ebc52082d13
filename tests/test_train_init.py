"""Fine-tuning: ``model.init`` / ``sagegan train --init`` starts from a trained segmenter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sagegan.cli import main
from sagegan.errors import ConfigError, DataError
from sagegan.models.checkpoint import load_model
from sagegan.train import config_from_cli, train
from sagegan.train.initial_weights import initial_segmenter


def _fine_tune(data: Path, out: Path, init: Path, **overrides) -> Path:
    settings = {
        "model.init": str(init),
        "model.segmenter_kwargs": {"base_width": 8, "depth": 2},  # replaced by the init's
        "gan.epochs": 0,
        "pretrain.epochs": 1,
        **overrides,
    }
    train(data, out, config_from_cli("tiny", None, settings))
    return out


def test_fine_tuning_keeps_the_architecture_and_starts_from_the_weights(
    tiny_run: tuple[Path, Path], tmp_path: Path
):
    data, run = tiny_run
    start, start_info = load_model(run)
    slow = _fine_tune(data, tmp_path / "slow", run, **{"pretrain.lr": 1e-9})
    tuned, tuned_info = load_model(slow)
    assert tuned_info["model_kwargs"] == start_info["model_kwargs"]
    tuned_parameters = dict(tuned.named_parameters())
    for key, value in start.named_parameters():  # a vanishing learning rate: still the init
        torch.testing.assert_close(tuned_parameters[key], value, atol=1e-4, rtol=0)
    moved, _ = load_model(_fine_tune(data, tmp_path / "fast", run, **{"pretrain.lr": 1e-2}))
    changed = [
        key
        for key, value in start.state_dict().items()
        if value.is_floating_point() and not torch.equal(moved.state_dict()[key], value)
    ]
    assert changed, "training from the init changes its weights"


def test_the_init_decides_the_instance_head(tiny_run: tuple[Path, Path]):
    _, run = tiny_run
    config = config_from_cli("tiny", None, {"model.init": str(run), "data.boundary_px": 2})
    one_channel, _ = initial_segmenter(config)
    assert one_channel.data.boundary_px == 0  # the tiny run has no instance head
    assert "out_channels" not in one_channel.model.segmenter_kwargs


def test_an_init_that_is_not_a_segmenter_is_refused(tiny_run: tuple[Path, Path]):
    _, run = tiny_run
    generators = sorted(run.glob("checkpoints/*/generator.safetensors"))
    if not generators:
        pytest.skip("the tiny run kept no generator weights")
    config = config_from_cli("tiny", None, {"model.init": str(generators[0])})
    with pytest.raises(ConfigError, match="holds no segmenter"):
        initial_segmenter(config)


def test_a_missing_init_is_a_one_line_error(tmp_path: Path, capsys):
    config = config_from_cli("tiny", None, {"model.init": str(tmp_path / "nowhere")})
    with pytest.raises(DataError):
        initial_segmenter(config)
    data = tmp_path / "data"
    assert main(["synth", "--n", "4", "--size", "64x64", "--out", str(data)]) == 0
    capsys.readouterr()
    argv = ["train", str(data), "--out", str(tmp_path / "run"), "--preset", "tiny"]
    assert main([*argv, "--init", str(tmp_path / "nowhere")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "nowhere" in error[0], error
    assert not (tmp_path / "run").exists(), "refused before the run folder is made"
