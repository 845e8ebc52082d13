"""The epoch loop shared by both stages: data loading, the iterations, validation, schedules, early
stopping, checkpoints, logs and resume.

A stage (:class:`~sagegan.train.training_stage.TrainingStage`) owns its networks, optimisers,
schedulers and scalers and trains one step at a time; :func:`train_epoch` runs an epoch of steps
(device, zeroed gradients, finite checks, averages, per-iteration schedules, collapse watch) and
:func:`run_stage` does the rest. Every epoch ends with a validation on whole validation
images (every ``val_every`` epochs and at the last one), a ReduceLROnPlateau step of every scheduler
on the validation score, an early-stopping check (strict improvement resets the counter) and a
checkpoint; a budget stage's epoch count is fitted to the loop's speed after its first epoch and
whenever that speed changes (:mod:`sagegan.train.replanning`). Resuming restores everything the
loop depends on, so a resumed run repeats an uninterrupted one exactly on CPU.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from sagegan.models.run_folder import BEFORE_TRAINING, RunFolder
from sagegan.train.checkpointing import Checkpointer
from sagegan.train.config import TrainConfig
from sagegan.train.guards import CollapseDetector, NonFiniteGuard, SplitGuard
from sagegan.train.loading import make_loader
from sagegan.train.replanning import replan_stage, resumed_settings
from sagegan.train.run_log import RunLog, save_attention_maps, save_grid
from sagegan.train.runtime import STAGE_KEYS, Runtime, derive_seed, set_rng_state
from sagegan.train.stopping import BudgetClock, Tracker
from sagegan.train.training_stage import StageSettings, Step, StepBatch, TrainingStage
from sagegan.train.validation import validate

LOGGER = logging.getLogger("sagegan")


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
    gan_dataset: Dataset | None = None
    nonfinite: NonFiniteGuard = field(init=False)

    def __post_init__(self) -> None:
        self.nonfinite = NonFiniteGuard(self.config.runtime.nan_patience)

    def dataset_of(self, stage: str) -> Dataset:
        """The patches ``stage`` trains on (the GAN stage: ``gan_dataset`` when it is set)."""
        gan = stage == "gan" and self.gan_dataset is not None
        return self.gan_dataset if gan else self.train_dataset


@dataclass
class StageOutcome:
    """How a stage ended."""

    name: str
    initial: dict[str, float]
    best_score: float
    best_epoch: int
    last_epoch: int
    stopped_early: bool


@dataclass
class EpochTraining:
    """An epoch of steps: the mean of each value over its completed steps, the collapse
    warnings it raised (each once) and its iterations (skipped steps included)."""

    losses: dict[str, float]
    warnings: list[str]
    iterations: int


def train_epoch(
    stage: TrainingStage,
    epoch: int,
    batches: Iterable[dict[str, Any]],
    runtime: Runtime,
    nonfinite: NonFiniteGuard,
) -> EpochTraining:
    """Train ``stage`` on each loader batch: the batch on the device, every gradient zeroed, one
    ``train_step``, then the per-iteration schedules (after skipped steps too: they follow the
    iterations); a completed step's values are averaged and its collapse signals watched."""
    stage.start_epoch(epoch)
    sums: dict[str, float] = defaultdict(float)
    steps = iterations = 0
    warnings: list[str] = []
    for index, loaded in enumerate(batches):
        iterations += 1
        batch = StepBatch.from_loader(loaded, runtime)
        for optimizer in stage.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        step = Step(epoch, index, batch.stems, runtime, nonfinite)
        result = stage.train_step(batch, step)
        for scheduler in stage.schedulers.values():
            if not isinstance(scheduler, ReduceLROnPlateau):  # those step on validation
                scheduler.step()
        if result is None:
            continue
        for name, value in result.losses.items():
            sums[name] += value
        steps += 1
        if stage.collapse is not None and result.collapse_signals is not None:
            _watch_collapse(stage.collapse, result.collapse_signals, step.where, warnings)
    means = {name: total / max(steps, 1) for name, total in sums.items()}
    return EpochTraining(means, warnings, iterations)


def _watch_collapse(
    detector: CollapseDetector, signals: tuple[float, float], where: str, warnings: list[str]
) -> None:
    """Feed the detector one step's (discriminator loss, generator output std); log and keep a
    warning the first time it comes in ``warnings``."""
    warning = detector.update(*signals)
    if warning is not None and warning not in warnings:
        LOGGER.warning("%s (%s)", warning, where)
        warnings.append(warning)


@dataclass
class _Restored:
    """Where a stage continues: its tracker, initial scores, first epoch, clock and settings."""

    tracker: Tracker
    initial: dict[str, float]
    start: int
    clock: BudgetClock
    settings: StageSettings
    finished: bool = False


def _restore(
    stage: TrainingStage,
    ctx: RunContext,
    settings: StageSettings,
    resumed: tuple[Path, dict[str, Any]],
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
        BudgetClock(_budget(ctx, settings), state.get("elapsed", 0.0), **state.get("pace", {})),
        resumed_settings(stage, settings, state),
        state["finished"],
    )


def _start(
    stage: TrainingStage,
    ctx: RunContext,
    settings: StageSettings,
    resumed: tuple[Path, dict[str, Any]] | None,
) -> _Restored:
    """Where the stage starts: the ``resumed`` checkpoint, else epoch 0 after a first validation
    (logged; the budget counts it, and it is the clock's first reserve). With
    ``settings.start_competes`` the starting weights are checkpointed too, the best yet."""
    if resumed is not None:
        return _restore(stage, ctx, settings, resumed)
    clock = BudgetClock(_budget(ctx, settings))
    restored = _Restored(Tracker(), _validate(stage, ctx), 0, clock, settings)
    clock.reserve = clock.elapsed()
    record = {"stage": settings.name, "epoch": BEFORE_TRAINING, "val": restored.initial}
    ctx.log.write({**record, "seconds": {"validation": clock.reserve}})
    if settings.start_competes:
        improved = restored.tracker.update(
            restored.initial[settings.val_metric], BEFORE_TRAINING, 0
        )
        state = _loop_state(stage, ctx, restored, settings, finished=False)
        _checkpoint(stage, ctx, settings, BEFORE_TRAINING, restored.initial, state, improved)
    return restored


def _loop_state(
    stage: TrainingStage,
    ctx: RunContext,
    restored: _Restored,
    settings: StageSettings,
    finished: bool,
) -> dict[str, Any]:
    """What a checkpoint keeps for the loop to resume from."""
    return {
        "stage_state": stage.state_dict(),
        "tracker": vars(restored.tracker).copy(),
        "nonfinite": ctx.nonfinite.state_dict(),
        "initial": restored.initial,
        "finished": finished,
        "elapsed": restored.clock.elapsed(),
        "epochs": settings.epochs,
        "pace": restored.clock.pace_record(),
    }


def _budget(ctx: RunContext, settings: StageSettings) -> float | None:
    return ctx.pretrain_budget_seconds if settings.name == "pretrain" else None


def run_stage(
    stage: TrainingStage,
    settings: StageSettings,
    ctx: RunContext,
    resumed: tuple[Path, dict[str, Any]] | None = None,
) -> StageOutcome:
    """Train ``stage`` to its last epoch, early stop or time budget, checkpointing every epoch.

    ``resumed``: (checkpoint folder, state) of this stage's last checkpoint to continue from.
    """
    runtime, planned_epochs = ctx.runtime, settings.epochs
    restored = _start(stage, ctx, settings, resumed)
    tracker, clock, settings = restored.tracker, restored.clock, restored.settings
    if restored.finished:
        return _outcome(settings, restored.initial, tracker, restored.start - 1)
    seed = derive_seed(ctx.config.seed, STAGE_KEYS[settings.name])
    epoch = restored.start - 1
    while epoch < settings.epochs - 1:  # a re-plan may change the epoch count as it goes
        epoch += 1
        loader = make_loader(
            ctx.dataset_of(settings.name),
            settings.batch_size,
            runtime,
            seed,
            epoch,
            ctx.config.runtime.num_workers,
        )
        began = time.perf_counter()
        first: list[dict[str, Any]] = []
        batches = _progress(loader, settings, epoch, ctx, first, clock)
        trained = train_epoch(stage, epoch, batches, runtime, ctx.nonfinite)
        stage.end_epoch(epoch)
        train_seconds = time.perf_counter() - began
        out_of_time = runtime.from_main(clock.out_of_time())
        timing = (trained.iterations, train_seconds)
        settings, replanned = replan_stage(
            stage, settings, planned_epochs, clock, runtime, ctx.run_dir, epoch, timing
        )
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
                "losses": trained.losses,
                "val": metrics,
                "lr": stage.learning_rates(),
                "seconds": {"train": train_seconds, "epoch": time.perf_counter() - began},
                "skipped_steps": ctx.nonfinite.take_skipped(),
                **stage.epoch_extras(epoch),
                **({} if stage.collapse is None else {"warnings": trained.warnings}),
                **({"stopped": "time budget"} if out_of_time else {}),
                **replanned,
            }
        )
        state = _loop_state(stage, ctx, restored, settings, finished)
        _checkpoint(stage, ctx, settings, epoch, metrics, state, improved)
        if finished:
            break
    return _outcome(settings, restored.initial, tracker, epoch)


def _validate_epoch(
    stage: TrainingStage, ctx: RunContext, settings: StageSettings, tracker: Tracker, epoch: int
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
    stage: TrainingStage,
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


def _validate(stage: TrainingStage, ctx: RunContext) -> dict[str, float]:
    """Validation scores of rank 0's segmenter (the one checkpointed), shared with every rank so
    that all ranks take the same scheduling and early-stopping decisions."""
    runtime = ctx.runtime
    metrics = None
    if runtime.is_main:
        metrics = validate(
            stage.segmenter, ctx.val_samples, runtime, ctx.config.instances, ctx.config.data.scale
        )
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
    stage: TrainingStage,
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
        samples = ctx.val_samples[: settings.attention_images]
        stem = RunFolder(ctx.run_dir).attention_stem(name, epoch)
        save_attention_maps(stage.segmenter, samples, ctx.runtime, stem)
