"""A run's learning curve and what its validation cost: validation Dice and F1@0.5 against stage-1
iterations, from ``RUN/log.jsonl`` (and ``RUN/plan.json`` for the iterations per epoch).

The validation share is the time spent outside training steps (validations, the one before
training included where the log records it, and figures) over the stage's wall time, from the
log's ``seconds``.

    python benchmarks/learning_curve.py RUN [--results curve.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def learning_curve(run_dir: Path) -> dict[str, Any]:
    """Rows (iterations, train loss, validation scores) and the validation share of stage 1."""
    records = [
        json.loads(line)
        for line in (run_dir / "log.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    plan_path = run_dir / "plan.json"
    per_epoch = None
    if plan_path.is_file():
        per_epoch = json.loads(plan_path.read_text())["plan"]["iterations_per_epoch"]
    rows, train_s, total_s = [], 0.0, 0.0
    for record in records:
        if record.get("stage") != "pretrain":
            continue
        if record["epoch"] < 0:  # the validation before training
            total_s += record.get("seconds", {}).get("validation", 0.0)
            continue
        seconds = record["seconds"]
        train_s += seconds["train"]
        total_s += seconds["epoch"]
        rows.append(
            {
                "epoch": record["epoch"],
                "iterations": None if per_epoch is None else per_epoch * (record["epoch"] + 1),
                "loss": record["losses"].get("seg"),
                "dice": record["val"].get("dice"),
                "f1@0.5": record["val"].get("f1@0.5"),
                "minutes": total_s / 60,
                "stopped": record.get("stopped"),
            }
        )
    return {
        "rows": rows,
        "train_seconds": train_s,
        "epoch_seconds": total_s,
        "validation_share": 1 - train_s / total_s if total_s else None,
    }


def _number(value: float | None) -> str:
    """Three decimals, or a dash for an epoch without that value (e.g. no step before the
    budget ran out)."""
    return "–" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    curve = learning_curve(args.run)
    print("| epoch | iterations | train loss | val Dice | val F1@0.5 | minutes |")
    print("|---|---|---|---|---|---|")
    for r in curve["rows"]:
        note = " (stopped: time budget)" if r["stopped"] else ""
        cells = [str(r["epoch"] + 1), str(r["iterations"])]
        cells += [_number(r[key]) for key in ("loss", "dice", "f1@0.5")]
        print(f"| {' | '.join(cells)} | {r['minutes']:.1f}{note} |")
    validating = curve["epoch_seconds"] - curve["train_seconds"]
    print(
        f"\nvalidation and figures: {validating:.0f} s of {curve['epoch_seconds'] / 60:.1f} min "
        f"({curve['validation_share']:.1%})"
    )
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(curve, indent=2) + "\n")


if __name__ == "__main__":
    main()
