"""Replay a budget run's logged epoch times through today's re-plan rule
(`sagegan.train.replanning`): which epoch counts it would have fitted, and when stage 1 would
have ended. No network runs; the epochs after the logged ones are assumed as long as the last.

    python benchmarks/replay_replan.py RUN --budget-minutes 60

Prints one line per change of the epoch count and the stage's end; ``--results`` writes them as
JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from sagegan.models.run_folder import PLAN_FILE
from sagegan.train import replanning
from sagegan.train.runtime import Runtime
from sagegan.train.stopping import BudgetClock
from sagegan.train.training_stage import StageSettings

NO_RUN_FOLDER = Path("/nonexistent-replay-run")  # no plan.json to note a re-plan in


class _Schedules:
    """Stands for a training stage: the replay has no schedules to follow the epoch count."""

    def set_epochs(self, epochs: int) -> None:
        return None


def replay(
    first_validation: float,
    epochs: list[tuple[float, float]],
    iterations_per_epoch: int,
    planned: int,
    budget: float,
) -> dict[str, Any]:
    """The re-plans of a stage of ``planned`` epochs whose epoch ``i`` trained ``epochs[i][0]``
    seconds and took ``epochs[i][1]`` with its validation, after a first validation of
    ``first_validation``, under a ``budget`` of seconds: each epoch goes through
    `replanning.replan_stage`, as the training loop calls it."""
    clock = BudgetClock(budget, started=time.monotonic(), reserve=first_validation)
    settings = StageSettings("pretrain", planned, 1, planned, "dice", 1)
    runtime = Runtime(torch.device("cpu"), None)
    spent, changes, epoch = first_validation, [], 0
    while epoch < settings.epochs:
        train, total = epochs[min(epoch, len(epochs) - 1)]
        # the clock reads what the run's clock read at this epoch's end, before its validation
        clock.spent_before = spent + train - (time.monotonic() - clock.started)
        timing = (iterations_per_epoch, train)
        settings, entry = replanning.replan_stage(
            _Schedules(), settings, planned, clock, runtime, NO_RUN_FOLDER, epoch, timing
        )
        if entry:
            changes.append(entry["replanned"])
        clock.reserve = total - train
        spent += total
        epoch += 1
    return {"epochs": settings.epochs, "stage_minutes": spent / 60.0, "replanned": changes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a budget run's folder (its log.jsonl, plan.json)")
    parser.add_argument("--budget-minutes", type=float, required=True)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    log = [json.loads(line) for line in (args.run / "log.jsonl").read_text().splitlines()]
    stage = [record for record in log if record["stage"] == "pretrain"]
    plan = json.loads((args.run / PLAN_FILE).read_text())["plan"]
    per_epoch = plan["iterations_per_epoch"]
    epochs = [(r["seconds"]["train"], r["seconds"]["epoch"]) for r in stage if r["epoch"] >= 0]
    planned = plan["iterations"] // per_epoch
    budget = 60.0 * args.budget_minutes
    result = replay(stage[0]["seconds"]["validation"], epochs, per_epoch, planned, budget)
    for change in result["replanned"]:
        print(
            f"after epoch {change['after_epoch']}: {change['epochs']} epochs "
            f"at {change['step_seconds']:.4f} s/iteration"
        )
    print(
        f"{result['epochs']} epochs of {planned} planned; stage 1 ends after "
        f"{result['stage_minutes']:.1f} minutes"
    )
    if args.results:
        args.results.write_text(json.dumps({"run": str(args.run), **result}, indent=2) + "\n")


if __name__ == "__main__":
    main()
