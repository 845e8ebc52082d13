"""Ensembles of finished benchmark runs against their members, on the test split.

Each ``--groups`` entry (seeds, e.g. ``0,1,2``) of the run folder ``RUNS`` (``real_data.py``'s
``<out>/<dataset>/runs/<method>/n<k>``, whose seeds share one split) becomes an ensemble
(`sagegan.train.ensemble.compose_ensemble`: maps averaged, instance split chosen on the shared
validation images), scored on the test split with both protocols. Its training time is the sum of
its members' (each from ``config.yaml`` to ``trained.json``, split tuning included). The members'
own test scores are read from their ``eval-test`` folders. Resumable: a composed and scored
ensemble is read back. Prints a markdown table and writes JSON.

    python benchmarks/ensembles.py /tmp/runs/t0/tio2_sem/runs/attention_unet/n19 \\
        ../shared/data/tio2_sem --groups 0,1,2 3,4,5 6,7,8 --out /tmp/ens \\
        --results benchmarks/results/ensemble_tio2_sem.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.evaluate.run import evaluate_run
from sagegan.train.ensemble import compose_ensemble

METRICS = ("dice_mean", "f1@0.50_mean", "pq@0.50_mean")
PAPER = ("dice_mean", "f1@0.50_mean")


def _scores(folder: Path, keys: tuple[str, ...]) -> dict[str, float]:
    summary = json.loads((folder / "metrics.json").read_text())["summary"]
    return {key: float(summary[key]) for key in keys}


def _minutes(run: Path) -> float:
    """Training wall time of a finished run (config.yaml to trained.json), in minutes."""
    return ((run / "trained.json").stat().st_mtime - (run / "config.yaml").stat().st_mtime) / 60


def score_group(runs: Path, seeds: list[int], data: Path, out: Path) -> dict[str, Any]:
    """Compose (unless done), score on the test split (unless done) and describe one ensemble."""
    members = [runs / f"s{seed}" for seed in seeds]
    folder = out / "_".join(f"s{seed}" for seed in seeds)
    if not (folder / "ensemble.json").is_file():
        compose_ensemble(members, data, folder)
    for protocol in ("native", "paper"):
        scores = folder / f"eval-test-{protocol}"
        if not (scores / "metrics.json").is_file():
            evaluate_run(folder, data, out=scores, protocol=protocol, progress=False)
    tuned = json.loads((folder / "ensemble.json").read_text())["info"]["instances_tuned"]
    return {
        "seeds": seeds,
        "ensemble": _scores(folder / "eval-test-native", METRICS),
        "ensemble_paper": _scores(folder / "eval-test-paper", PAPER),
        "members": [_scores(run / "eval-test", METRICS) for run in members],
        "member_minutes": [_minutes(run) for run in members],
        "split_chosen": tuned["chosen"],
    }


def _mean_sd(values: list[float]) -> str:
    sd = np.std(values, ddof=1) if len(values) > 1 else 0.0
    return f"{np.mean(values):.3f} ± {sd:.3f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| seeds | ensemble Dice / F1@0.5 / PQ | paper Dice / F1 | members' mean Dice / F1 "
        "| training minutes (sum of members) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        ens, paper = row["ensemble"], row["ensemble_paper"]
        members = {key: np.mean([m[key] for m in row["members"]]) for key in METRICS}
        lines.append(
            f"| {','.join(map(str, row['seeds']))} | {ens['dice_mean']:.3f} / "
            f"{ens['f1@0.50_mean']:.3f} / {ens['pq@0.50_mean']:.3f} | {paper['dice_mean']:.3f} / "
            f"{paper['f1@0.50_mean']:.3f} | {members['dice_mean']:.3f} / "
            f"{members['f1@0.50_mean']:.3f} | {sum(row['member_minutes']):.1f} |"
        )
    for key, name in (("dice_mean", "Dice"), ("f1@0.50_mean", "F1@0.5")):
        ensembles = [row["ensemble"][key] for row in rows]
        singles = [member[key] for row in rows for member in row["members"]]
        lines.append(f"\n{name}: ensembles {_mean_sd(ensembles)}, single runs {_mean_sd(singles)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="real_data.py's <dataset>/runs/<method>/n<k>")
    parser.add_argument("data", type=Path, help="the dataset folder")
    parser.add_argument("--groups", nargs="+", required=True, help="seed groups, e.g. 0,1,2")
    parser.add_argument("--out", type=Path, required=True, help="folder for the ensembles")
    parser.add_argument("--results", type=Path, help="JSON file for the rows")
    args = parser.parse_args()
    groups = [[int(seed) for seed in group.split(",")] for group in args.groups]
    rows = [score_group(args.runs, seeds, args.data, args.out) for seeds in groups]
    print(markdown(rows))
    if args.results:
        args.results.write_text(json.dumps({"runs": str(args.runs), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
