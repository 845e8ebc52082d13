"""Did model selection take the GAN stage? Every SAGE-GAN run of `sagegan compare` folders against
its Attention U-Net twin (same dataset, training size and seed).

For each pair: the selection metric (``gan.val_metric``), the validation score of the pretrained
checkpoint the GAN stage starts from, the best GAN epoch's, whether ``best.json`` names a GAN
checkpoint, and the test Dice and F1@0.5 (native protocol, per-image mean) of both runs. The test
scores are read only to report them; selection never saw them. Prints a markdown table and a
summary, writes JSON.

    python benchmarks/gan_selection.py /tmp/real_data2 --out benchmarks/results/gan_selection.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

TEST_METRICS = "eval-test/metrics.json"
TWIN = "attention_unet"


def _log(run: Path) -> list[dict[str, Any]]:
    with open(run / "log.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _test_scores(run: Path) -> dict[str, float] | None:
    path = run / TEST_METRICS
    if not path.is_file():
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))["summary"]
    return {"dice": summary["dice_mean"], "f1@0.5": summary["f1@0.50_mean"]}


def selection_row(run: Path, comparison: Path) -> dict[str, Any] | None:
    """The pair row of the finished SAGE-GAN ``run`` (None while it or its twin is unfinished)."""
    dataset, _, _, size, seed = run.relative_to(comparison).parts
    twin = comparison / dataset / "runs" / TWIN / size / seed
    mine, theirs = _test_scores(run), _test_scores(twin)
    if mine is None or theirs is None:
        return None
    metric = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["gan"]["val_metric"]
    gan_rows = [row for row in _log(run) if row["stage"] == "gan" and "val" in row]
    start = [row["val"][metric] for row in gan_rows if row["epoch"] < 0]
    epochs = [row["val"][metric] for row in gan_rows if row["epoch"] >= 0]
    best = json.loads((run / "best.json").read_text(encoding="utf-8"))["checkpoint"]
    return {
        "comparison": str(comparison),
        "dataset": dataset,
        "train_images": int(size[1:]),
        "seed": int(seed[1:]),
        "val_metric": metric,
        "val_pretrained": start[0] if start else None,
        "val_gan_epochs": epochs,
        "gan_taken": Path(best).name.startswith("gan-"),
        "test_sage_gan": mine,
        "test_attention_unet": theirs,
        "test_delta": {key: mine[key] - theirs[key] for key in mine},
    }


def selection_rows(comparisons: list[Path]) -> list[dict[str, Any]]:
    """One row per finished pair ``<comparison>/<dataset>/runs/sage_gan/n<k>/s<seed>``."""
    rows = []
    for comparison in comparisons:
        for run in sorted(comparison.glob("*/runs/sage_gan/n*/s*")):
            row = selection_row(run, comparison)
            if row is not None:
                rows.append(row)
    return sorted(rows, key=lambda r: (r["comparison"], r["dataset"], r["train_images"], r["seed"]))


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the GAN stage was taken, and the mean paired test difference."""
    n = len(rows)
    return {
        "pairs": n,
        "gan_taken": sum(row["gan_taken"] for row in rows),
        "mean_test_delta": {
            key: sum(row["test_delta"][key] for row in rows) / n if n else None
            for key in ("dice", "f1@0.5")
        },
    }


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comparisons", nargs="+", type=Path, help="benchmark --out folders")
    parser.add_argument("--out", type=Path, help="JSON file for the rows and the summary")
    args = parser.parse_args()
    rows = selection_rows(args.comparisons)
    print(
        "| comparison | dataset | train images | seed | selection metric | validation: pretrained "
        "| validation: GAN epochs | GAN taken | test Dice: SAGE-GAN - AttU "
        "| test F1@0.5: SAGE-GAN - AttU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        epochs = ", ".join(_value(value) for value in row["val_gan_epochs"])
        print(
            f"| {row['comparison']} | {row['dataset']} | {row['train_images']} | {row['seed']} | "
            f"{row['val_metric']} | {_value(row['val_pretrained'])} | {epochs} | "
            f"{'yes' if row['gan_taken'] else 'no'} | {row['test_delta']['dice']:+.3f} | "
            f"{row['test_delta']['f1@0.5']:+.3f} |"
        )
    totals = summary(rows)
    if rows:
        delta = totals["mean_test_delta"]
        print(
            f"\nGAN stage taken in {totals['gan_taken']} of {totals['pairs']} pairs; mean paired "
            f"test difference: Dice {delta['dice']:+.3f}, F1@0.5 {delta['f1@0.5']:+.3f}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        command = "python benchmarks/gan_selection.py"
        document = {"command": command, "summary": totals, "pairs": rows}
        args.out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
