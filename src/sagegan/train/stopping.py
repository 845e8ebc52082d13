"""When a stage stops: early stopping on the validation score and the time budget."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


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
class BudgetClock:
    """A stage's wall time, across resumes, against an optional budget (seconds). Training stops
    when what is left would not cover ``reserve``, the duration of the last validation with its
    figures, so that the closing validation ends within the budget. ``pace``: the loop's seconds
    per iteration that the stage's epoch count was last fitted to; ``loop_seconds`` and
    ``loop_iterations``: the training time and iterations of the epochs after the first, which
    measure it (`sagegan.train.replanning`)."""

    budget: float | None
    spent_before: float = 0.0
    started: float = field(default_factory=time.monotonic)
    reserve: float = 0.0
    pace: float | None = None
    loop_seconds: float = 0.0
    loop_iterations: int = 0

    def pace_record(self) -> dict[str, float | int | None]:
        """The pace fields, as a checkpoint keeps them (keyword arguments of a resumed clock)."""
        return {
            "pace": self.pace,
            "loop_seconds": self.loop_seconds,
            "loop_iterations": self.loop_iterations,
        }

    def elapsed(self) -> float:
        return self.spent_before + time.monotonic() - self.started

    def out_of_time(self) -> bool:
        return self.budget is not None and self.elapsed() + self.reserve >= self.budget
