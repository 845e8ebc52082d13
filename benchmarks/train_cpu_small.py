"""Benchmark: the ``cpu-small`` preset end to end on simulated SEM images (CPU).

Simulates N images (default 40 at 512x768), trains both stages with ``cpu-small`` and reports wall
time per stage, seconds per iteration, and the validation Dice / object F1@0.5 of the best and the
last checkpoint. Prints a markdown table and writes JSON (``--out``).

    python benchmarks/train_cpu_small.py --out benchmarks/results/train_cpu_small.json

Run it on an otherwise idle machine: other torch processes on the same cores slow it down many-fold.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sagegan.synth import write_dataset
from sagegan.train import config_from_cli, train


def _parse_size(text: str) -> tuple[int, int]:
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs (VALUE parsed as JSON when possible) for config_from_cli."""
    values = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def stage_summary(records: list[dict[str, Any]], stage: str, steps_per_epoch: int) -> dict:
    """Wall time, iterations and final/best scores of one stage from the epoch log."""
    epochs = [r for r in records if r["stage"] == stage and r["epoch"] >= 0]
    if not epochs:
        return {}
    train_seconds = sum(r["seconds"]["train"] for r in epochs)
    best = max(epochs, key=lambda r: r["val"].get("dice", -1.0))
    initial = next(r["val"] for r in records if r["stage"] == stage and r["epoch"] == -1)
    return {
        "epochs": len(epochs),
        "iterations": len(epochs) * steps_per_epoch,
        "wall_seconds": sum(r["seconds"]["epoch"] for r in epochs),
        "train_seconds": train_seconds,
        "seconds_per_iteration": train_seconds / (len(epochs) * steps_per_epoch),
        "initial_val": initial,
        "last_val": epochs[-1]["val"],
        "best_dice_epoch": best["epoch"],
        "best_dice_val": best["val"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="simulated images (default 40)")
    parser.add_argument("--size", type=_parse_size, default=(512, 768), help="HxW (512x768)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides")
    parser.add_argument("--data", type=Path, help="reuse this simulated dataset folder")
    parser.add_argument("--workdir", type=Path, help="where data and run go (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_cpu_small.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sagegan_bench_"))
    data = args.data or workdir / "data"
    began = time.perf_counter()
    if args.data is None:
        write_dataset(
            data, n=args.n, size=args.size, seed=args.seed, progress=False, overwrite=True
        )
    simulate_seconds = time.perf_counter() - began
    run = workdir / "run"
    shutil.rmtree(run, ignore_errors=True)
    config = config_from_cli(args.preset, None, {"runtime.progress": False, **_overrides(args.set)})
    began = time.perf_counter()
    result = train(data, run, config)
    total_seconds = time.perf_counter() - began
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    split = json.loads(result.split_path.read_text())
    samples = config.data.samples_per_epoch or len(split["train"])
    stages = {
        "pretrain": stage_summary(
            records, "pretrain", math.ceil(samples / config.pretrain.batch_size)
        ),
        "gan": stage_summary(records, "gan", math.ceil(samples / config.gan.batch_size)),
    }
    report = {
        "preset": args.preset,
        "overrides": _overrides(args.set),
        "images": args.n,
        "size": list(args.size),
        "split": {part: len(split[part]) for part in ("train", "val", "test")},
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "simulate_seconds": simulate_seconds,
        "train_total_seconds": total_seconds,
        "stages": stages,
        "best_checkpoint": {k: result.best[k] for k in ("stage", "epoch", "metrics")},
    }
    print("| stage | epochs | iterations | wall s | s/iteration | val Dice (best) | val F1@0.5 |")
    print("|---|---|---|---|---|---|---|")
    for name, summary in stages.items():
        if summary:
            best = summary["best_dice_val"]
            print(
                f"| {name} | {summary['epochs']} | {summary['iterations']} | "
                f"{summary['wall_seconds']:.0f} | {summary['seconds_per_iteration']:.2f} | "
                f"{best['dice']:.3f} | {best['f1@0.5']:.3f} |"
            )
    best, scores = result.best, result.best["metrics"]
    print(
        f"\ntotal training {total_seconds:.0f} s (+ {simulate_seconds:.0f} s simulation); best "
        f"checkpoint {best['stage']} epoch {best['epoch']}: val Dice {scores['dice']:.3f}, "
        f"F1@0.5 {scores['f1@0.5']:.3f}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
