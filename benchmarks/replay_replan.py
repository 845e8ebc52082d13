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

from sagegan.models.run_folder import PLAN_FILE
from sagegan.train import replanning
from sagegan.train.stopping import BudgetClock


def replay(
    first_validation: float,
    epochs: list[tuple[float, float]],
    iterations_per_epoch: int,
    planned: int,
    budget: float,
) -> dict[str, Any]:
    """The re-plans of a stage of ``planned`` epochs whose epoch ``i`` trained ``epochs[i][0]``
    seconds and took ``epochs[i][1]`` with its validation, after a first validation of
    ``first_validation``, under a ``budget`` of seconds."""
    clock = BudgetClock(budget, started=time.monotonic(), reserve=first_validation)
    spent, count, changes = first_validation, planned, []
    for epoch in range(planned):
        train, total = epochs[min(epoch, len(epochs) - 1)]
        if epoch >= count:
            break
        # the clock reads what the run's clock read at this epoch's end, before its validation
        clock.spent_before = spent + train - (time.monotonic() - clock.started)
        measured = replanning.measured_pace(clock, epoch, iterations_per_epoch, train)
        found = None
        if epoch < count - 1:
            found = replanning.refit(clock, planned, epoch, iterations_per_epoch, measured)
        if found is not None:
            clock.pace = found.step_seconds
            if found.epochs != count:
                changes.append(found.record())
                count = found.epochs
        clock.reserve = total - train
        spent += total
    return {"epochs": count, "stage_minutes": spent / 60.0, "replanned": changes}


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
