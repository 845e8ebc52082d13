"""The builtin model zero-shot on the committed test splits of the real datasets, as
``sagegan evaluate DATA --model builtin --split-file benchmarks/splits/DATASET.json`` scores it
(native protocol, per-image mean), with the smallest object fixed and scaled per image:

    OMP_NUM_THREADS=2 python benchmarks/zero_shot.py --results benchmarks/results/zero_shot.json

``--model DIR --split val`` scores a candidate generalist on the validation parts instead, to
choose between candidates without reading a test image.

Prints Dice, F1@0.5 and the objects predicted against the true count, per dataset and setting.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from sagegan.evaluate.run import evaluate_run
from sagegan.infer.options import PredictionOptions

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("tio2_sem", "pdc_sem", "emps")
SETTINGS = {"fixed (min_size_fraction 0)": 0.0, "scaled (the builtin's default)": None}


def score(
    data: Path, dataset: str, fraction: float | None, model: str, split: str
) -> dict[str, float]:
    """Mean Dice and F1@0.5 and the object counts of ``model`` on one part of a committed split."""
    options = PredictionOptions(min_size_fraction=fraction)
    with tempfile.TemporaryDirectory() as out:
        result = evaluate_run(
            model,
            data / dataset,
            out=out,
            options=options,
            split=split,
            split_file=REPO / "benchmarks" / "splits" / f"{dataset}.json",
            progress=False,
        )
    rows = result.rows
    return {
        "images": len(rows),
        "dice": result.summary["dice_mean"],
        "f1@0.5": result.summary["f1@0.50_mean"],
        "predicted": int(sum(row["n_pred"] for row in rows)),
        "true": int(sum(row["n_true"] for row in rows)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument(
        "--model",
        default="builtin",
        help="the shipped model (default) or a folder written by "
        "`benchmarks/pretrain_generalist.py --package --package-dir DIR`",
    )
    parser.add_argument(
        "--split",
        choices=("test", "val"),
        default="test",
        help="which part of the committed splits (val: to choose between candidate models)",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=("fixed", "scaled"),
        default=["fixed", "scaled"],
        help="smallest-object settings to score",
    )
    parser.add_argument("--results", type=Path, help="write the table as JSON here")
    args = parser.parse_args()
    missing = [name for name in args.datasets if not (args.data / name).is_dir()]
    if missing:
        raise SystemExit(f"{args.data}: no dataset folder {', '.join(missing)}")
    table = {
        dataset: {
            name: score(args.data, dataset, fraction, args.model, args.split)
            for name, fraction in SETTINGS.items()
            if name.split()[0] in args.settings
        }
        for dataset in args.datasets
    }
    print("| dataset | smallest object | Dice | F1@0.5 | objects predicted / true |")
    print("|---|---|---|---|---|")
    for dataset, rows in table.items():
        for name, row in rows.items():
            print(
                f"| {dataset} | {name} | {row['dice']:.3f} | {row['f1@0.5']:.3f} | "
                f"{row['predicted']} / {row['true']} |"
            )
    if args.results:
        args.results.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()
