"""Benchmark: how the segmenter's BatchNorm guard changes the GAN stage (issue 4).

Simulates N images, pretrains once with a preset (default ``cpu-small``), then runs the GAN stage
from that same pretrained segmenter once per ``gan.bn_guard`` value ("none" is the reference:
generated images update S's running statistics). Reports validation Dice / F1@0.5 after every GAN
epoch, prints a markdown table and writes JSON (``--out``).

    python benchmarks/bn_guard.py --out benchmarks/results/bn_guard.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from sagegan.synth import write_dataset
from sagegan.train import config_from_cli, train

GUARDS = ("none", "frozen", "separate")


def gan_epochs(run_dir: Path) -> list[dict[str, float]]:
    """Validation scores of every GAN epoch, in order, from the run's log.jsonl."""
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return [r["val"] for r in records if r["stage"] == "gan" and r["epoch"] >= 0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="keep the runs here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bn_guard.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sagegan_bn_guard_"))
    data = write_dataset(workdir / "data", n=args.images, seed=args.seed, overwrite=True)
    base = workdir / "pretrained"
    shutil.rmtree(base, ignore_errors=True)
    overrides: dict[str, Any] = {"seed": args.seed, "runtime.progress": False}
    train(data, base, config_from_cli(args.preset, overrides=overrides), stage="pretrain")

    results: dict[str, list[dict[str, float]]] = {}
    for guard in GUARDS:
        run = workdir / f"gan_{guard}"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base, run)
        config = config_from_cli(args.preset, overrides={**overrides, "gan.bn_guard": guard})
        train(data, run, config, stage="gan", split_path=run / "split.json")
        results[guard] = gan_epochs(run)

    n_epochs = max(len(scores) for scores in results.values())
    header = "| `gan.bn_guard` | " + " | ".join(f"epoch {e + 1}" for e in range(n_epochs)) + " |"
    print(header)
    print("|---" * (n_epochs + 1) + "|")
    for guard, scores in results.items():
        cells = [f"{s['dice']:.3f} / {s['f1@0.5']:.3f}" for s in scores]
        print(f"| {guard} | " + " | ".join(cells) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"preset": args.preset, "images": args.images, "seed": args.seed, "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
