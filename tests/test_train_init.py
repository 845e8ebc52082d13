"""Fine-tuning: ``model.init`` / ``sagegan train --init`` starts from a trained segmenter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import Killed
from sagegan.cli import main
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.errors import ConfigError, DataError
from sagegan.models.checkpoint import load_model, load_weights, resolve_checkpoint
from sagegan.train import (
    checkpointing,
    config_from_cli,
    engine,
    initial_weights,
    planning,
    train,
)
from sagegan.train.initial_weights import (
    read_initial_segmenter,
    with_init_architecture,
    with_init_head,
)


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
    fast = {"pretrain.lr": 1e-2, "pretrain.select_start": False}  # the trained weights, not
    moved, _ = load_model(_fine_tune(data, tmp_path / "fast", run, **fast))  # the start's
    changed = [
        key
        for key, value in start.state_dict().items()
        if value.is_floating_point() and not torch.equal(moved.state_dict()[key], value)
    ]
    assert changed, "training from the init changes its weights"


def test_the_init_decides_the_instance_head(tiny_run: tuple[Path, Path]):
    _, run = tiny_run
    config = config_from_cli("tiny", None, {"model.init": str(run), "data.boundary_px": 2})
    init = read_initial_segmenter(config)
    one_channel = with_init_head(with_init_architecture(config, init), init)
    assert one_channel.data.boundary_px == 0  # the tiny run has no instance head
    assert "out_channels" not in one_channel.model.segmenter_kwargs


def test_the_plan_times_and_records_the_network_of_the_init(tiny_run, monkeypatch):
    data, run = tiny_run
    timed = []

    def step_timer(segmenter, segmenter_kwargs, *args, **kwargs):
        timed.append((segmenter, dict(segmenter_kwargs)))
        return 0.01

    monkeypatch.setattr(planning, "measure_step_seconds", step_timer)
    settings = {"model.init": str(run), "plan.budget_minutes": 5}
    config = config_from_cli("auto", None, settings)
    config = with_init_architecture(config, read_initial_segmenter(config))
    _, start = load_model(run)
    start_kwargs = {k: v for k, v in start["model_kwargs"].items() if k != "out_channels"}
    assert config.model.segmenter_kwargs == start_kwargs
    samples = [load_sample(pair) for pair in find_pairs(data)]
    plan, overrides = planning.plan_run(config, samples[:6], samples[6:], torch.device("cpu"))
    assert plan.depth == start_kwargs["depth"]  # not the depth planned for these particles
    assert any("network of model.init" in reason for reason in plan.reasons)
    assert not any(key.startswith("model.segmenter_kwargs.") for key in overrides)
    assert timed and all(timing == (start["model"], start_kwargs) for timing in timed)


def test_a_planned_fine_tuning_run_reads_its_init_once(tiny_run, tmp_path, monkeypatch):
    data, run = tiny_run
    reads = []

    def counting_load_model(*args, **kwargs):
        reads.append(args[0])
        return load_model(*args, **kwargs)

    monkeypatch.setattr(initial_weights, "load_model", counting_load_model)
    settings = {"model.init": str(run), "plan.iterations": 4, "runtime.progress": False}
    train(data, tmp_path / "tuned", config_from_cli("auto", None, {**settings, "gan.epochs": 0}))
    assert reads == [str(run)]  # the plan and the weights come from one read
    _, tuned = load_model(tmp_path / "tuned")
    _, start = load_model(run)
    assert tuned["model_kwargs"] == start["model_kwargs"]


def test_an_init_that_is_not_a_segmenter_is_refused(tiny_run: tuple[Path, Path]):
    _, run = tiny_run
    generators = sorted(run.glob("checkpoints/*/generator.safetensors"))
    if not generators:
        pytest.skip("the tiny run kept no generator weights")
    config = config_from_cli("tiny", None, {"model.init": str(generators[0])})
    with pytest.raises(ConfigError, match="holds no segmenter"):
        read_initial_segmenter(config)


def test_a_missing_init_is_a_one_line_error(tmp_path: Path, capsys):
    config = config_from_cli("tiny", None, {"model.init": str(tmp_path / "nowhere")})
    with pytest.raises(DataError):
        read_initial_segmenter(config)
    data = tmp_path / "data"
    assert main(["synth", "--n", "4", "--size", "64x64", "--out", str(data)]) == 0
    capsys.readouterr()
    argv = ["train", str(data), "--out", str(tmp_path / "run"), "--preset", "tiny"]
    assert main([*argv, "--init", str(tmp_path / "nowhere")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "nowhere" in error[0], error
    assert not (tmp_path / "run").exists(), "refused before the run folder is made"


def _scripted_validation(monkeypatch: pytest.MonkeyPatch, scores: list[float]) -> None:
    """Stage validations return ``scores`` in order, the start's first."""
    sequence = iter(scores)

    def validate(stage, ctx):
        score = next(sequence)
        return {"dice": score, "f1@0.5": score}

    monkeypatch.setattr(engine, "_validate", validate)


def _best(run: Path) -> dict:
    return json.loads((run / "best.json").read_text())


@pytest.mark.parametrize(
    ("scores", "best_epoch"), [([0.9, 0.5], -1), ([0.5, 0.9], 0), ([0.9, 0.9], -1)]
)
def test_the_start_stays_best_unless_an_epoch_validates_better(
    tiny_run, tmp_path, monkeypatch, scores, best_epoch
):
    data, run = tiny_run
    _scripted_validation(monkeypatch, scores)
    tuned = _fine_tune(data, tmp_path / "tuned", run, **{"pretrain.lr": 1e-2})
    assert _best(tuned)["epoch"] == best_epoch
    start, _ = load_model(run)
    best, _ = load_model(tuned)
    same = all(torch.equal(best.state_dict()[k], v) for k, v in start.state_dict().items())
    assert same == (best_epoch == -1)
    assert json.loads((tuned / "last.json").read_text())["epoch"] == 0


def test_without_select_start_the_start_is_not_a_candidate(tiny_run, tmp_path, monkeypatch):
    data, run = tiny_run
    _scripted_validation(monkeypatch, [0.9, 0.5])
    off = {"pretrain.lr": 1e-2, "pretrain.select_start": False}
    tuned = _fine_tune(data, tmp_path / "tuned", run, **off)
    assert _best(tuned)["epoch"] == 0
    assert not (tuned / "checkpoints" / "pretrain-start").exists()


def test_a_run_killed_after_its_start_checkpoint_resumes_exactly(tiny_run, tmp_path, monkeypatch):
    data, run = tiny_run
    settings = {"pretrain.lr": 1e-2, "pretrain.epochs": 2}
    straight = _fine_tune(data, tmp_path / "straight", run, **settings)
    original_save = checkpointing.Checkpointer.save

    def save_then_die(self, *args, **kwargs):
        original_save(self, *args, **kwargs)
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(checkpointing.Checkpointer, "save", save_then_die)
        with pytest.raises(Killed):
            _fine_tune(data, tmp_path / "resumed", run, **settings)
    resumed = tmp_path / "resumed"
    assert json.loads((resumed / "last.json").read_text())["epoch"] == -1
    train(data, resumed, None, resume=True)
    for which in ("last", "best"):
        expected = load_weights(resolve_checkpoint(straight, which) / "segmenter.safetensors")[0]
        actual = load_weights(resolve_checkpoint(resumed, which) / "segmenter.safetensors")[0]
        assert all(torch.equal(actual[k], v) for k, v in expected.items()), which
    log = [json.loads(line) for line in (resumed / "log.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in log] == [-1, 0, 1]


def test_the_cli_says_when_the_run_keeps_the_init_weights(tiny_run, tmp_path, monkeypatch, capsys):
    data, run = tiny_run
    _scripted_validation(monkeypatch, [0.9, 0.5])
    argv = ["train", str(data), "--out", str(tmp_path / "tuned"), "--preset", "tiny"]
    settings = ["--set", "gan.epochs=0", "--set", "pretrain.epochs=1"]
    assert main([*argv, *settings, "--init", str(run)]) == 0
    out = capsys.readouterr().out
    assert "best checkpoint: pretrain-start" in out and "keeps them" in out
    report = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "tuned"), "--out", str(report)]) == 0
    assert "pretrain, before training" in report.read_text(encoding="utf-8")
