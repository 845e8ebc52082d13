"""The epoch loop shared by both stages: data loading, validation, schedules, early stopping,
checkpoints, logs and resume.

A stage (:class:`Stage`) owns its networks, optimisers, schedulers and scalers and trains one epoch
at a time; :func:`run_stage` does the rest. Every epoch ends with a validation on whole validation
images (every ``val_every`` epochs and at the last one), a ReduceLROnPlateau step of every scheduler
on the validation score, an early-stopping check (strict improvement resets the counter) and a
checkpoint. Resuming restores everything the loop depends on, so a resumed run repeats an
uninterrupted one exactly on CPU.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from sagegan.data.dataset import worker_init_fn
from sagegan.models.run_folder import RunFolder
from sagegan.train.checkpointing import Checkpointer
from sagegan.train.config import TrainConfig
from sagegan.train.guards import NonFiniteGuard, SplitGuard
from sagegan.train.run_log import RunLog, save_attention, save_grid
from sagegan.train.runtime import STAGE_KEYS, Runtime, derive_seed, evaluating, set_rng_state
from sagegan.train.validation import validate


@dataclass
class StageSettings:
    """The loop's view of one stage's config."""

    name: str
    epochs: int
    batch_size: int
    patience: int
    val_metric: str
    val_every: int


@dataclass
class RunContext:
    """What both stages share during one run."""

    run_dir: Path
    config: TrainConfig
    runtime: Runtime
    checkpointer: Checkpointer
    log: RunLog
    train_dataset: Dataset
    val_samples: list[Any]
    split_guard: SplitGuard
    info: dict[str, Any]
    pretrain_budget_seconds: float | None = None
    nonfinite: NonFiniteGuard = field(init=False)

    def __post_init__(self) -> None:
        self.nonfinite = NonFiniteGuard(self.config.runtime.nan_patience)


@dataclass
class Tracker:
    """Best validation score so far and the early-stopping counter (in epochs)."""

    best_score: float = -math.inf
    best_epoch: int = -1
    bad_epochs: int = 0

    def update(self, score: float, epoch: int, epochs_since_last: int) -> bool:
        """Record a validation; True when it strictly beats the best (a tie is no improvement)."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch, 0
            return True
        self.bad_epochs += epochs_since_last
        return False


@dataclass
class StageOutcome:
    """How a stage ended."""

    name: str
    initial: dict[str, float]
    best_score: float
    best_epoch: int
    last_epoch: int
    stopped_early: bool


class Stage(ABC):
    """One training stage: networks, optimisers, schedulers, scalers and its epoch of training."""

    name: str
    nets: dict[str, nn.Module]
    specs: dict[str, dict[str, Any]]
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler | ReduceLROnPlateau]
    scalers: dict[str, torch.amp.GradScaler]

    @property
    def segmenter(self) -> nn.Module:
        return self.nets["segmenter"]

    @abstractmethod
    def train_epoch(self, epoch: int, batches: Iterable[dict[str, Any]]) -> dict[str, float]:
        """Train one epoch; return the mean of each logged loss."""

    def epoch_extras(self, epoch: int) -> dict[str, Any]:
        """Stage-specific values for the epoch's log record."""
        return {}

    def grid_columns(self, batch: dict[str, Any]) -> dict[str, list[np.ndarray]]:
        """Panels of the periodic image grid for one training batch."""
        return {}

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


def make_loader(
    dataset: Dataset, batch_size: int, runtime: Runtime, seed: int, epoch: int, num_workers: int
) -> DataLoader:
    """The loader of one epoch, depending only on (seed, epoch) and this rank: the sampler
    shuffles by epoch, the dataset draws crops/augmentations from (seed, epoch, index)."""
    dataset.set_epoch(epoch)
    sampler = DistributedSampler(
        dataset, num_replicas=runtime.world_size, rank=runtime.rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=worker_init_fn,
        generator=torch.Generator().manual_seed(derive_seed(seed, epoch)),
        pin_memory=runtime.device.type == "cuda",
    )


def to_device(batch: dict[str, Any], runtime: Runtime) -> tuple[torch.Tensor, ...]:
    """(image, mask, valid) of a loader batch on the run's device."""
    return tuple(
        batch[key].to(runtime.device, non_blocking=True) for key in ("image", "mask", "valid")
    )


def training_target(batch: dict[str, Any], mask: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    """The segmenter's target: the foreground ``mask``, with the batch's boundary target as a
    second channel when it has one (the instance head)."""
    if "boundary" not in batch:
        return mask
    boundary = batch["boundary"].to(runtime.device, non_blocking=True)
    return torch.cat([mask, boundary], dim=1)


@dataclass
class BudgetClock:
    """A stage's wall time, across resumes, against an optional budget (seconds). Training stops
    when what is left would not cover ``reserve``, the duration of the last validation with its
    figures, so that the closing validation ends within the budget."""

    budget: float | None
    spent_before: float = 0.0
    started: float = field(default_factory=time.monotonic)
    reserve: float = 0.0

    def elapsed(self) -> float:
        return self.spent_before + time.monotonic() - self.started

    def out_of_time(self) -> bool:
        return self.budget is not None and self.elapsed() + self.reserve >= self.budget


@dataclass
class _Restored:
    """Where a stage continues: its tracker, initial scores, first epoch and clock."""

    tracker: Tracker
    initial: dict[str, float]
    start: int
    clock: BudgetClock
    finished: bool = False


def _restore(
    stage: Stage, ctx: RunContext, settings: StageSettings, resumed: tuple[Path, dict[str, Any]]
) -> _Restored:
    """Load a checkpoint's networks, optimiser/scheduler state, guards and RNG into the stage."""
    folder, state = resumed
    for name, module in stage.nets.items():
        ctx.checkpointer.load_net(folder, name, module)
    stage.load_state_dict(state["stage_state"])
    ctx.nonfinite.load_state_dict(state["nonfinite"])
    set_rng_state(state["rng"][ctx.runtime.rank])
    return _Restored(
        Tracker(**state["tracker"]),
        state["initial"],
        state["epoch"] + 1,
        BudgetClock(_budget(ctx, settings), state.get("elapsed", 0.0)),
        state["finished"],
    )


def _budget(ctx: RunContext, settings: StageSettings) -> float | None:
    return ctx.pretrain_budget_seconds if settings.name == "pretrain" else None


def run_stage(
    stage: Stage,
    settings: StageSettings,
    ctx: RunContext,
    resumed: tuple[Path, dict[str, Any]] | None = None,
) -> StageOutcome:
    """Train ``stage`` to its last epoch, early stop or time budget, checkpointing every epoch.

    ``resumed``: (checkpoint folder, state) of this stage's last checkpoint to continue from.
    """
    runtime = ctx.runtime
    if resumed is not None:
        restored = _restore(stage, ctx, settings, resumed)
        if restored.finished:
            return _outcome(settings, restored.initial, restored.tracker, restored.start - 1)
    else:
        clock = BudgetClock(_budget(ctx, settings))  # the budget counts the first validation
        restored = _Restored(Tracker(), _validate(stage, ctx), 0, clock)
        clock.reserve = clock.elapsed()
        seconds = {"validation": clock.reserve}
        ctx.log.write(
            {"stage": settings.name, "epoch": -1, "val": restored.initial, "seconds": seconds}
        )
    tracker, clock = restored.tracker, restored.clock
    seed = derive_seed(ctx.config.seed, STAGE_KEYS[settings.name])
    last = restored.start - 1
    for epoch in range(restored.start, settings.epochs):
        loader = make_loader(
            ctx.train_dataset,
            settings.batch_size,
            runtime,
            seed,
            epoch,
            ctx.config.runtime.num_workers,
        )
        began = time.perf_counter()
        first: list[dict[str, Any]] = []
        losses = stage.train_epoch(epoch, _progress(loader, settings, epoch, ctx, first, clock))
        train_seconds = time.perf_counter() - began
        out_of_time = runtime.from_main(clock.out_of_time())
        due = (epoch + 1) % settings.val_every == 0 or epoch == settings.epochs - 1 or out_of_time
        closing_started = time.monotonic()
        metrics, improved = (
            _validate_epoch(stage, ctx, settings, tracker, epoch) if due else ({}, False)
        )
        finished = (
            epoch == settings.epochs - 1 or tracker.bad_epochs >= settings.patience or out_of_time
        )
        _write_images(stage, settings.name, epoch, finished, ctx, first)
        if due:  # what the closing validation will cost, its figures included
            clock.reserve = time.monotonic() - closing_started
        ctx.log.write(
            {
                "stage": settings.name,
                "epoch": epoch,
                "losses": losses,
                "val": metrics,
                "lr": stage.learning_rates(),
                "seconds": {"train": train_seconds, "epoch": time.perf_counter() - began},
                "skipped_steps": ctx.nonfinite.take_skipped(),
                **stage.epoch_extras(epoch),
                **({"stopped": "time budget"} if out_of_time else {}),
            }
        )
        state = {
            "stage_state": stage.state_dict(),
            "tracker": vars(tracker).copy(),
            "nonfinite": ctx.nonfinite.state_dict(),
            "initial": restored.initial,
            "finished": finished,
            "elapsed": clock.elapsed(),
        }
        _checkpoint(stage, ctx, settings, epoch, metrics, state, improved)
        last = epoch
        if finished:
            break
    return _outcome(settings, restored.initial, tracker, last)


def _validate_epoch(
    stage: Stage, ctx: RunContext, settings: StageSettings, tracker: Tracker, epoch: int
) -> tuple[dict[str, float], bool]:
    """Validate, update the tracker and step the plateau schedulers; (metrics, improved)."""
    metrics = _validate(stage, ctx)
    score = metrics[settings.val_metric]
    improved = tracker.update(score, epoch, settings.val_every)
    for scheduler in stage.schedulers.values():
        if isinstance(scheduler, ReduceLROnPlateau):  # the others step per iteration
            scheduler.step(score)
    return metrics, improved


def _checkpoint(
    stage: Stage,
    ctx: RunContext,
    settings: StageSettings,
    epoch: int,
    metrics: dict[str, float],
    state: dict[str, Any],
    improved: bool,
) -> None:
    info = {
        **ctx.info,
        "stage": settings.name,
        "epoch": epoch,
        "metrics": metrics,
        "metric": settings.val_metric,
        "score": metrics.get(settings.val_metric),
    }
    ctx.checkpointer.save(settings.name, epoch, stage.nets, stage.specs, state, info, improved)


def _validate(stage: Stage, ctx: RunContext) -> dict[str, float]:
    """Validation scores of rank 0's segmenter (the one checkpointed), shared with every rank so
    that all ranks take the same scheduling and early-stopping decisions."""
    runtime = ctx.runtime
    metrics = None
    if runtime.is_main:
        metrics = validate(stage.segmenter, ctx.val_samples, runtime, ctx.config.instances)
    return runtime.from_main(metrics)


def _outcome(
    settings: StageSettings, initial: dict[str, float], tracker: Tracker, last: int
) -> StageOutcome:
    return StageOutcome(
        settings.name,
        initial,
        tracker.best_score,
        tracker.best_epoch,
        last,
        stopped_early=last < settings.epochs - 1,
    )


def _progress(
    loader: DataLoader,
    settings: StageSettings,
    epoch: int,
    ctx: RunContext,
    first: list[dict[str, Any]],
    clock: BudgetClock,
) -> Iterator[dict[str, Any]]:
    """Loader batches with a tqdm bar on rank 0; records every stem read and keeps the first batch
    in ``first`` (for the image grid). Stops early when the ``clock`` runs out of time (every
    rank decides with rank 0's clock, so all take the same number of steps)."""
    bar = tqdm(
        loader,
        desc=f"{settings.name} {epoch + 1}/{settings.epochs}",
        disable=not (ctx.config.runtime.progress and ctx.runtime.is_main),
        leave=False,
    )
    for batch in bar:
        if clock.budget is not None and ctx.runtime.from_main(clock.out_of_time()):
            bar.close()
            return
        for stem in batch["stem"]:
            ctx.split_guard.allow(stem)
        if not first:
            first.append(batch)
        yield batch


def _write_images(
    stage: Stage,
    name: str,
    epoch: int,
    finished: bool,
    ctx: RunContext,
    first: list[dict[str, Any]],
) -> None:
    """Image grid (of the epoch's first batch) and attention maps when due (rank 0 only)."""
    settings = ctx.config.runtime
    if not ctx.runtime.is_main:
        return
    if first and ((epoch + 1) % settings.grid_every == 0 or finished):
        columns = stage.grid_columns(first[0])
        if columns:
            save_grid(RunFolder(ctx.run_dir).grid_path(name, epoch), columns)
    if (epoch + 1) % settings.attention_every == 0 or finished:
        _save_attention_maps(stage.segmenter, name, epoch, ctx)


@torch.no_grad()
def _save_attention_maps(segmenter: nn.Module, name: str, epoch: int, ctx: RunContext) -> None:
    from sagegan.models.attention_unet import upsample_attention
    from sagegan.models.checkpoint import unwrap

    samples = ctx.val_samples[: ctx.config.runtime.attention_images]
    model = unwrap(segmenter)
    stems, images, maps = [], [], []
    for sample in samples:
        batch = torch.from_numpy(np.ascontiguousarray(sample.image))[None, None]
        with evaluating(model), ctx.runtime.autocast():
            attention = model(batch.to(ctx.runtime.device)).attention
        if not attention:
            return
        size = sample.image.shape
        maps.append(upsample_attention(attention, size)[0].float().cpu().numpy())
        stems.append(sample.stem)
        images.append(sample.image)
    save_attention(RunFolder(ctx.run_dir).attention_stem(name, epoch), stems, images, maps)
