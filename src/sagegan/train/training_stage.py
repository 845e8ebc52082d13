"""The contract between the training engine and a stage: ``train_step(batch, step)``.

The engine (:mod:`sagegan.train.engine`) owns the iteration loop: it moves each loader batch to
the device (:class:`StepBatch`), zeroes every optimiser's gradients, calls the stage's
``train_step``, averages the returned losses over the epoch's completed steps, steps the
per-iteration learning-rate schedules and feeds the stage's collapse detector. A step runs its
forward passes under ``step.autocast()``, asks ``step.finite(losses)`` before each backward pass
(False: the step is skipped on every rank, return None) and steps its optimisers through their
gradient scalers (:func:`scaled_step`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from sagegan.data.separation import HEAD_TARGETS
from sagegan.train.guards import CollapseDetector, NonFiniteGuard
from sagegan.train.runtime import Runtime


@dataclass
class StageSettings:
    """The loop's view of one stage's config. ``start_competes``: the weights the stage starts
    from are checkpointed before the first step and compete for its best checkpoint."""

    name: str
    epochs: int
    batch_size: int
    patience: int
    val_metric: str
    val_every: int
    start_competes: bool = False


@dataclass
class StepBatch:
    """A loader batch on the run's device: images, masks, valid pixels, the boundary and centre
    targets of an instance head (None without them) and the images' stems."""

    image: Tensor
    mask: Tensor
    valid: Tensor
    boundary: Tensor | None
    stems: list[str]
    centre: Tensor | None = None

    @classmethod
    def from_loader(cls, batch: dict[str, Any], runtime: Runtime) -> StepBatch:
        def moved(key: str) -> Tensor:
            return batch[key].to(runtime.device, non_blocking=True)

        boundary = moved("boundary") if "boundary" in batch else None
        centre = moved("centre") if "centre" in batch else None
        stems = list(batch["stem"])
        return cls(moved("image"), moved("mask"), moved("valid"), boundary, stems, centre)

    @property
    def size(self) -> int:
        return self.image.shape[0]

    @property
    def target(self) -> Tensor:
        """The segmenter's target: the mask, then the instance head's targets if any (boundary,
        centre: the `HEAD_TARGETS` order, which generated pairs' targets follow too)."""
        heads = [getattr(self, name) for name in HEAD_TARGETS]
        heads = [head for head in heads if head is not None]
        return torch.cat([self.mask, *heads], dim=1) if heads else self.mask


@dataclass
class Step:
    """Where an iteration is (epoch, index in the epoch) and the engine's services to its step."""

    epoch: int
    index: int
    stems: list[str]
    runtime: Runtime
    guard: NonFiniteGuard

    @property
    def where(self) -> str:
        return f"epoch {self.epoch} step {self.index}"

    def autocast(self) -> contextlib.AbstractContextManager:
        """The run's autocast context, for forward passes (backward runs outside it)."""
        return self.runtime.autocast()

    def finite(self, losses: dict[str, float]) -> bool:
        """True when every loss is finite on every rank. Otherwise the guard records the step
        (and stops training after too many in a row) and the step must end without stepping."""
        finite = self.guard.check(losses, self.stems, self.where)
        return not self.runtime.any_true(not finite)


@dataclass
class StepResult:
    """A completed step: its values to average over the epoch, and for a GAN the signals of
    collapse (discriminator loss, generator output standard deviation)."""

    losses: dict[str, float]
    collapse_signals: tuple[float, float] | None = None


class TrainingStage(Protocol):
    """What the engine needs from a stage."""

    name: str
    nets: dict[str, nn.Module]
    specs: dict[str, dict[str, Any]]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, LRScheduler | ReduceLROnPlateau]
    collapse: CollapseDetector | None  # fed by the engine with each step's collapse signals

    @property
    def segmenter(self) -> nn.Module: ...

    def start_epoch(self, epoch: int) -> None:
        """Prepare an epoch's training (modes of the networks, random sources)."""

    def train_step(self, batch: StepBatch, step: Step) -> StepResult | None:
        """One iteration on ``batch``; None when a non-finite loss skipped it."""

    def end_epoch(self, epoch: int) -> None:
        """Work after an epoch's training and before its validation (e.g. realism measures)."""

    def epoch_extras(self, epoch: int) -> dict[str, Any]:
        """Stage-specific values for the epoch's log record."""

    def grid_columns(self, batch: dict[str, Any]) -> dict[str, list[np.ndarray]]:
        """Panels of the periodic image grid for one loader batch."""

    def set_epochs(self, epochs: int) -> None:
        """Train ``epochs`` epochs in all from the coming iteration on: schedules over the
        stage's total iterations follow (a budget run re-fitted to its loop's speed)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def learning_rates(self) -> dict[str, float]: ...


class StageBase:
    """Defaults of a :class:`TrainingStage` that owns optimisers, schedulers and scalers."""

    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, LRScheduler | ReduceLROnPlateau]
    scalers: dict[str, torch.amp.GradScaler]
    collapse: CollapseDetector | None = None

    @property
    def segmenter(self) -> nn.Module:
        return self.nets["segmenter"]

    def start_epoch(self, epoch: int) -> None:
        for module in self.nets.values():
            module.train()

    def end_epoch(self, epoch: int) -> None:
        return None

    def epoch_extras(self, epoch: int) -> dict[str, Any]:
        return {}

    def grid_columns(self, batch: dict[str, Any]) -> dict[str, list[np.ndarray]]:
        return {}

    def set_epochs(self, epochs: int) -> None:
        return None  # no schedule over the total iterations

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "scalers": {k: v.state_dict() for k, v in self.scalers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for group in ("optimizers", "schedulers", "scalers"):
            for key, value in getattr(self, group).items():
                value.load_state_dict(state[group][key])

    def learning_rates(self) -> dict[str, float]:
        return {k: float(v.param_groups[0]["lr"]) for k, v in self.optimizers.items()}


def scaled_step(
    loss: Tensor, scaler: torch.amp.GradScaler, optimizers: list[torch.optim.Optimizer]
) -> None:
    """Backward pass of ``loss`` through ``scaler``, then step every optimiser and the scaler."""
    scaler.scale(loss).backward()
    for optimizer in optimizers:
        scaler.step(optimizer)
    scaler.update()


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """No gradient reaches the modules' parameters in the block (their ``requires_grad`` is
    restored afterwards): the discriminators while the generator side trains."""
    parameters = [p for module in modules for p in module.parameters()]
    saved = [p.requires_grad for p in parameters]
    for parameter in parameters:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in zip(parameters, saved, strict=True):
            parameter.requires_grad_(flag)
