"""Re-planning a budget run's stage 1 from the loop's own speed.

The plan (`sagegan.train.planning`) sets the iterations of a ``--budget`` run from a few steps
timed on random data, with a safety margin (``planning.STEP_MARGIN``). The loop may run slower
than that timing (data loading, logging, a busy machine), and a run planned that way is stopped
by the budget before its learning rate has decayed; or it runs as timed, and the margin leaves
part of the budget unused. After its first epoch, :func:`refit` fits the whole epochs that the
rest of the budget holds at the loop's measured seconds per iteration, each with a validation
(as the plan reserves one per epoch), fewer or more than planned. Later epochs measure the pace
again over all epochs since the first (which runs slower: loading, warm-up), and when it has
moved more than ``PACE_TOLERANCE`` from the pace the epoch count was fitted to, the epochs are
fitted again: the time a slow first epoch seemed to cost comes back. The stage's schedules then
decay over the new total (``TrainingStage.set_epochs``). Every later checkpoint holds the epoch
count and the pace (``"epochs"`` and ``"pace"`` in its state), so a resumed run continues with
them; ``plan.json`` (the latest re-plan) and the epoch's log record say so.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagegan.models.run_folder import RunFolder
from sagegan.train.planning import write_plan_document
from sagegan.train.runtime import Runtime
from sagegan.train.stopping import BudgetClock
from sagegan.train.training_stage import StageSettings, TrainingStage

LOGGER = logging.getLogger("sagegan")


PACE_TOLERANCE = 0.05  # a later epoch's loop this much faster or slower fits the epochs again


@dataclass
class Replan:
    """An epoch count fitted to the budget after epoch ``epoch``: the loop's measured seconds per
    iteration, its iterations per epoch, and the planned and fitted epoch counts."""

    step_seconds: float
    iterations_per_epoch: int
    planned_epochs: int
    epochs: int
    epoch: int

    def record(self) -> dict[str, Any]:
        """The re-plan as ``plan.json`` and the epoch's log record hold it."""
        return {
            "after_epoch": self.epoch,
            "step_seconds": self.step_seconds,
            "epochs": self.epochs,
            "iterations": self.epochs * self.iterations_per_epoch,
            "planned_iterations": self.planned_epochs * self.iterations_per_epoch,
        }

    def message(self, planned_step_seconds: float | None) -> str:
        """The console line; ``planned_step_seconds``: the plan's timed step, if known."""
        record = self.record()
        timed = "" if planned_step_seconds is None else f", not {planned_step_seconds:.2f} s"
        return (
            f"re-planned after epoch {self.epoch}: the loop runs {self.step_seconds:.2f} "
            f"s/iteration{timed}: {record['iterations']:,} iterations fit the budget instead of "
            f"{record['planned_iterations']:,}"
        )


def loop_step_seconds(train_seconds: float, iterations: int) -> float:
    """The loop's seconds per iteration over epochs of training (data loading included,
    validation not)."""
    return train_seconds / iterations


def measured_pace(
    clock: BudgetClock, epoch: int, iterations: int, train_seconds: float
) -> tuple[float, int]:
    """The training seconds and iterations the pace is measured on after epoch ``epoch``: the
    first epoch's alone, then those of every later epoch (the first runs slower: loading,
    warm-up), summed in ``clock``."""
    if epoch == 0:
        return train_seconds, iterations
    clock.loop_seconds += train_seconds
    clock.loop_iterations += iterations
    return clock.loop_seconds, clock.loop_iterations


def refit(
    clock: BudgetClock,
    planned_epochs: int,
    epoch: int,
    iterations_per_epoch: int,
    measured: tuple[float, int],
) -> Replan | None:
    """The whole epochs (at least the ``epoch + 1`` done; ``planned_epochs`` is recorded) that fit
    ``clock``'s budget at the pace ``measured`` (training seconds, iterations), with a
    validation per epoch as long as the last one (``clock.reserve``); None when there is no
    budget or it is spent, or when the pace is still ``clock.pace`` within ``PACE_TOLERANCE``."""
    if clock.budget is None or iterations_per_epoch < 1 or clock.out_of_time():
        return None
    step = loop_step_seconds(*measured)
    if clock.pace is not None and abs(step / clock.pace - 1.0) <= PACE_TOLERANCE:
        return None
    validation = clock.reserve
    left = clock.budget - clock.elapsed() - validation  # after this epoch's validation
    more = max(0, math.floor(left / (iterations_per_epoch * step + validation)))
    return Replan(step, iterations_per_epoch, planned_epochs, epoch + 1 + more, epoch)


def replan_stage(
    stage: TrainingStage,
    settings: StageSettings,
    planned_epochs: int,
    clock: BudgetClock,
    runtime: Runtime,
    run_dir: Path,
    epoch: int,
    timing: tuple[int, float],
) -> tuple[StageSettings, dict[str, Any]]:
    """After a budget stage's epoch ``epoch`` (``timing``: its iterations and training seconds):
    the settings it continues with and the entry of the epoch's log record (empty when the epoch
    count stands). The last epoch is not extended. Rank 0 decides for every rank, and notes a
    re-plan in the console and ``plan.json``."""
    if clock.budget is None or epoch >= settings.epochs - 1:
        return settings, {}
    iterations, train_seconds = timing
    measured = measured_pace(clock, epoch, iterations, train_seconds)
    found = refit(clock, planned_epochs, epoch, iterations, measured) if runtime.is_main else None
    found = runtime.from_main(found)
    if found is None:
        return settings, {}
    clock.pace = found.step_seconds
    if found.epochs == settings.epochs:
        return settings, {}
    if runtime.is_main:
        _note(run_dir, found)
    stage.set_epochs(found.epochs)
    return _with_epochs(settings, found.epochs), {"replanned": found.record()}


def resumed_settings(
    stage: TrainingStage, settings: StageSettings, state: dict[str, Any]
) -> StageSettings:
    """The settings a stage resumed from checkpoint ``state`` continues with: its re-planned
    epoch count when it was re-planned (the stage's schedules follow), else ``settings``."""
    epochs = state.get("epochs", settings.epochs)
    if epochs == settings.epochs:
        return settings
    stage.set_epochs(epochs)
    return _with_epochs(settings, epochs)


def _with_epochs(settings: StageSettings, epochs: int) -> StageSettings:
    """``settings`` with ``epochs`` epochs; a patience that spanned the whole stage (the plan's
    way of training to the end) spans the new epoch count too."""
    patience = epochs if settings.patience >= settings.epochs else settings.patience
    return dataclasses.replace(settings, epochs=epochs, patience=patience)


def _note(run_dir: Path, found: Replan) -> None:
    """Log the re-plan and add it to the run's ``plan.json`` as ``"replanned"``."""
    path = RunFolder(run_dir).plan_path()
    document = json.loads(path.read_text("utf-8")) if path.is_file() else None
    planned = None if document is None else document["plan"].get("step_seconds")
    LOGGER.info(found.message(planned))
    if document is not None:
        write_plan_document(run_dir, {**document, "replanned": found.record()})
