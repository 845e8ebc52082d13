"""Re-planning a budget run's stage 1 from the loop's own speed.

The plan (`sagegan.train.planning`) sets the iterations of a ``--budget`` run from a few steps
timed on random data, which run faster than the loop does (data loading, logging, a busy machine):
planned that way, a run is stopped by the budget before its learning rate has decayed. After the
first epoch :func:`replan` measures the loop's seconds per iteration and keeps the whole epochs
that fit what is left of the budget, each with a validation (as the plan reserves one per epoch),
never more than planned; the stage's schedules then decay over the new total
(``TrainingStage.set_epochs``). Every later checkpoint holds the epoch count (``"epochs"`` in its
state), so a resumed run continues with it; ``plan.json`` and the epoch's log record say so.
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


@dataclass
class Replan:
    """A shortened stage: the loop's measured seconds per iteration, its iterations per epoch,
    and the planned and re-planned epoch counts."""

    step_seconds: float
    iterations_per_epoch: int
    planned_epochs: int
    epochs: int

    def record(self) -> dict[str, Any]:
        """The re-plan as ``plan.json`` and the epoch's log record hold it."""
        return {
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
            f"re-planned: the loop runs {self.step_seconds:.2f} s/iteration{timed}: "
            f"{record['iterations']:,} iterations fit the budget instead of "
            f"{record['planned_iterations']:,}"
        )


def loop_step_seconds(train_seconds: float, iterations: int) -> float:
    """The loop's seconds per iteration over an epoch's training (its data loading included, its
    validation not)."""
    return train_seconds / iterations


def replan(clock: BudgetClock, epochs: int, iterations: int, train_seconds: float) -> Replan | None:
    """The stage cut to the whole epochs (the first one included) that fit ``clock``'s budget at
    the speed of its first epoch (``iterations`` in ``train_seconds``), with a validation per
    epoch as long as the last one (``clock.reserve``); None when the planned ``epochs`` fit."""
    if clock.budget is None or iterations < 1:
        return None
    step = loop_step_seconds(train_seconds, iterations)
    validation = clock.reserve
    left = clock.budget - clock.elapsed() - validation  # after the first epoch's validation
    fitting = 1 + max(0, math.floor(left / (iterations * step + validation)))
    if fitting >= epochs:
        return None
    return Replan(step, iterations, epochs, fitting)


def replan_stage(
    stage: TrainingStage,
    settings: StageSettings,
    clock: BudgetClock,
    runtime: Runtime,
    run_dir: Path,
    iterations: int,
    train_seconds: float,
) -> tuple[StageSettings, dict[str, Any]]:
    """After a budget stage's first epoch: the settings it continues with and the entry of the
    epoch's log record (empty when the plan fits). Rank 0 decides for every rank, and notes a
    re-plan in the console and ``plan.json``."""
    found = replan(clock, settings.epochs, iterations, train_seconds) if runtime.is_main else None
    found = runtime.from_main(found)
    if found is None:
        return settings, {}
    if runtime.is_main:
        _note(run_dir, found)
    stage.set_epochs(found.epochs)
    return dataclasses.replace(settings, epochs=found.epochs), {"replanned": found.record()}


def resumed_settings(
    stage: TrainingStage, settings: StageSettings, state: dict[str, Any]
) -> StageSettings:
    """The settings a stage resumed from checkpoint ``state`` continues with: its re-planned
    epoch count when it was re-planned (the stage's schedules follow), else ``settings``."""
    epochs = state.get("epochs", settings.epochs)
    if epochs == settings.epochs:
        return settings
    stage.set_epochs(epochs)
    return dataclasses.replace(settings, epochs=epochs)


def _note(run_dir: Path, found: Replan) -> None:
    """Log the re-plan and add it to the run's ``plan.json`` as ``"replanned"``."""
    path = RunFolder(run_dir).plan_path()
    document = json.loads(path.read_text("utf-8")) if path.is_file() else None
    planned = None if document is None else document["plan"].get("step_seconds")
    LOGGER.info(found.message(planned))
    if document is not None:
        write_plan_document(run_dir, {**document, "replanned": found.record()})
