"""The train_step contract: the engine's iteration loop (device batch, zeroed gradients, averages
over completed steps, per-iteration schedules, collapse watch) and the helpers a step uses."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
import torch
from torch import nn

from sagegan.train.config import config_from_cli
from sagegan.train.engine import train_epoch
from sagegan.train.guards import CollapseDetector, NonFiniteGuard, NonFiniteLossError
from sagegan.train.runtime import Runtime
from sagegan.train.stage_setup import plateau_scheduler, segmenter_spec
from sagegan.train.training_stage import (
    StageBase,
    Step,
    StepBatch,
    StepResult,
    frozen,
    scaled_step,
)

CPU = Runtime(torch.device("cpu"), None)


def _loader_batch(index: int, boundary: bool = False) -> dict[str, Any]:
    mask = torch.zeros(2, 1, 4, 4)
    mask[:, :, 1:3, 1:3] = 1
    batch = {
        "image": torch.full((2, 1, 4, 4), float(index)),
        "mask": mask,
        "valid": torch.ones(2, 1, 4, 4),
        "stem": [f"img{index}a", f"img{index}b"],
    }
    if boundary:
        batch["boundary"] = torch.ones(2, 1, 4, 4)
    return batch


class _ScriptedStage(StageBase):
    """A stage whose steps return scripted losses (None: a skipped step), recording what the
    engine hands it."""

    name = "scripted"

    def __init__(self, script: list[StepResult | None], poly: bool = False) -> None:
        self.script = script
        self.net = nn.Linear(1, 1)
        self.nets = {"segmenter": self.net}
        self.specs = {}
        optimizer = torch.optim.SGD(self.net.parameters(), lr=1.0)
        self.optimizers = {"segmenter": optimizer}
        if poly:
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (step + 1))
        else:
            scheduler = plateau_scheduler(optimizer, 0.5, 1, False)
        self.schedulers = {"segmenter": scheduler}
        self.scalers = {"segmenter": CPU.make_scaler()}
        self.started: list[int] = []
        self.seen: list[tuple[int, int, list[str], bool]] = []

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        self.started.append(epoch)

    def train_step(self, batch: StepBatch, step: Step) -> StepResult | None:
        gradient_cleared = self.net.weight.grad is None
        self.seen.append((step.epoch, step.index, batch.stems, gradient_cleared))
        self.net(batch.image.flatten()[:1]).sum().backward()  # leaves a gradient behind
        self.optimizers["segmenter"].step()
        return self.script[step.index]


def test_train_epoch_averages_completed_steps_only_and_zeroes_gradients_first():
    script = [StepResult({"a": 1.0, "b": 10.0}), None, StepResult({"a": 3.0, "b": 20.0})]
    stage = _ScriptedStage(script)
    batches = [_loader_batch(i) for i in range(3)]
    trained = train_epoch(stage, 4, batches, CPU, NonFiniteGuard(3))
    assert trained.losses == {"a": 2.0, "b": 15.0}
    assert trained.warnings == []
    assert stage.started == [4]
    assert [(epoch, index) for epoch, index, _, _ in stage.seen] == [(4, 0), (4, 1), (4, 2)]
    assert stage.seen[1][2] == ["img1a", "img1b"]
    assert all(cleared for *_, cleared in stage.seen)


def test_per_iteration_schedules_follow_every_iteration_and_plateau_ones_wait():
    stage = _ScriptedStage([StepResult({"a": 1.0}), None, None], poly=True)
    train_epoch(stage, 0, [_loader_batch(i) for i in range(3)], CPU, NonFiniteGuard(3))
    assert stage.optimizers["segmenter"].param_groups[0]["lr"] == pytest.approx(1 / 4)
    plateau = _ScriptedStage([StepResult({"a": 1.0})] * 3)
    train_epoch(plateau, 0, [_loader_batch(i) for i in range(3)], CPU, NonFiniteGuard(3))
    assert plateau.optimizers["segmenter"].param_groups[0]["lr"] == 1.0


def test_collapse_signals_feed_the_stage_detector_and_warn_once_per_epoch(caplog):
    collapsing = StepResult({"d": 0.0}, collapse_signals=(1e-6, 0.5))
    stage = _ScriptedStage([collapsing] * 4)
    stage.collapse = CollapseDetector(window=2)
    with caplog.at_level(logging.WARNING, logger="sagegan"):
        trained = train_epoch(
            stage, 0, [_loader_batch(i) for i in range(4)], CPU, NonFiniteGuard(3)
        )
    assert len(trained.warnings) == 1 and "discriminator loss" in trained.warnings[0]
    logged = [r.getMessage() for r in caplog.records if "collapse" in r.getMessage()]
    assert len(logged) == 1 and logged[0].endswith("(epoch 0 step 1)")
    assert len(stage.collapse.d_losses) == 2


def test_step_batch_moves_the_loader_batch_and_adds_the_boundary_to_the_target():
    plain = StepBatch.from_loader(_loader_batch(1), CPU)
    assert plain.size == 2 and plain.stems == ["img1a", "img1b"]
    assert plain.boundary is None and plain.target is plain.mask
    instance = StepBatch.from_loader(_loader_batch(1, boundary=True), CPU)
    assert instance.target.shape == (2, 2, 4, 4)
    assert torch.equal(instance.target[:, 1:], torch.ones(2, 1, 4, 4))


def test_step_finite_records_a_non_finite_step_and_stops_after_the_patience():
    guard = NonFiniteGuard(patience=2)
    step = Step(3, 7, ["x", "y"], CPU, guard)
    assert step.finite({"seg": 0.5})
    assert not step.finite({"seg": math.nan, "aux": 1.0})
    assert guard.take_skipped() == [
        {"where": "epoch 3 step 7", "losses": ["seg"], "stems": ["x", "y"]}
    ]
    with pytest.raises(NonFiniteLossError, match="epoch 3 step 7"):
        step.finite({"seg": math.inf})


def test_frozen_stops_gradients_to_the_modules_and_restores_their_flags():
    discriminator, generator = nn.Linear(2, 1), nn.Linear(2, 2)
    discriminator.bias.requires_grad_(False)
    with frozen(discriminator):
        assert not any(p.requires_grad for p in discriminator.parameters())
        discriminator(generator(torch.ones(1, 2))).sum().backward()
    assert discriminator.weight.grad is None
    assert generator.weight.grad is not None and generator.weight.grad.abs().sum() > 0
    assert discriminator.weight.requires_grad and not discriminator.bias.requires_grad
    with pytest.raises(RuntimeError), frozen(discriminator):
        raise RuntimeError("a failing step")
    assert discriminator.weight.requires_grad


def test_scaled_step_steps_every_optimiser_once():
    first, second = nn.Linear(1, 1), nn.Linear(1, 1)
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (first, second)]
    before = [first.weight.item(), second.weight.item()]
    loss = (first(torch.ones(1, 1)) + second(torch.ones(1, 1))).sum()
    scaled_step(loss, CPU.make_scaler(), optimizers)
    assert first.weight.item() == pytest.approx(before[0] - 0.1)
    assert second.weight.item() == pytest.approx(before[1] - 0.1)


def test_segmenter_spec_adds_the_instance_head_and_plateau_mode_follows_the_reference_switch():
    config = config_from_cli("tiny", None, {"data.boundary_px": 2})
    spec = segmenter_spec(config)
    assert spec["model"] == "attention_unet"
    assert spec["model_kwargs"] == {"base_width": 4, "depth": 3, "out_channels": 2}
    assert "out_channels" not in segmenter_spec(config_from_cli("tiny"))["model_kwargs"]
    optimizer = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
    assert plateau_scheduler(optimizer, 0.5, 2, faithful=False).mode == "max"
    assert plateau_scheduler(optimizer, 0.5, 2, faithful=True).mode == "min"
