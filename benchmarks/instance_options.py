"""How a trained run's predictions become instances: object F1 on its validation split for each
instance-split setting (smallest kept object, seed depth; for a model with an instance head, with
and without its boundary channel cutting the mask).

The network runs once per image; only the split is repeated. The validation split chooses, the test
split is not read:

    python benchmarks/instance_options.py RUN DATA --min-sizes 10 76 150 --min-depths 1 4 \\
        --results benchmarks/results/instance_options_emps.json

Prints mean pixel Dice (which the split does not change) and, per setting, mean F1@0.5 and the
predicted against the true object count.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import load_split
from sagegan.infer.instances import split_instances
from sagegan.infer.tiling import predict_tiled
from sagegan.metrics.objects import match_instances
from sagegan.metrics.pixel import pixel_scores
from sagegan.models.checkpoint import load_model, read_training_info
from sagegan.models.run_folder import RunFolder


def settings(
    min_sizes: list[int], min_depths: list[float], has_boundary: bool
) -> list[dict[str, Any]]:
    """Every setting to score: each (min_size_px, min_depth_px) with distance seeds from the whole
    mask, then, for a model with an instance head, from the mask with its boundaries cut out."""
    seeds = ["distance", "boundary"] if has_boundary else ["distance"]
    return [
        {"seeds": kind, "min_size_px": size, "min_depth_px": depth}
        for kind in seeds
        for size in min_sizes
        for depth in min_depths
    ]


def score_run(
    run: Path, data: Path, min_sizes: list[int], min_depths: list[float], which: str
) -> dict[str, Any]:
    """Per-setting mean F1@0.5 and object counts over the run's validation images."""
    model, info = load_model(run, which)
    split_file = RunFolder(run).training_split(read_training_info(Path(info["path"])))
    if split_file is None:
        raise SystemExit(f"{run}: no split file recorded; the validation images are unknown")
    stems = load_split(split_file).val
    pairs = {pair.stem: pair for pair in find_pairs(data)}
    chosen = settings(min_sizes, min_depths, model.head.out_channels == 2)
    f1 = np.zeros((len(chosen), len(stems)))
    counts = np.zeros(len(chosen))
    dice, true_count = [], 0
    for column, stem in enumerate(stems):
        sample = load_sample(pairs[stem])
        prediction = predict_tiled(model, sample.image)
        truth = np.asarray(sample.labels)
        true_count += len(np.unique(truth[truth > 0]))
        dice.append(pixel_scores(prediction.probability > 0.5, truth > 0)["dice"])
        for row, setting in enumerate(chosen):
            boundary = prediction.boundary if setting["seeds"] == "boundary" else None
            labels = split_instances(
                prediction.probability,
                min_size_px=setting["min_size_px"],
                min_depth_px=setting["min_depth_px"],
                boundary=boundary,
            )
            f1[row, column] = match_instances(truth, labels, thresh=0.5).f1
            counts[row] += int(labels.max())
    rows = [
        {**setting, "f1@0.5": float(f1[row].mean()), "predicted": int(counts[row])}
        for row, setting in enumerate(chosen)
    ]
    return {"images": len(stems), "dice": float(np.mean(dice)), "true": true_count, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run folder")
    parser.add_argument("data", type=Path, help="the dataset folder it was trained on")
    parser.add_argument("--min-sizes", type=int, nargs="+", default=[10])
    parser.add_argument("--min-depths", type=float, nargs="+", default=[1.0])
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--results", type=Path, help="write the table as JSON here")
    args = parser.parse_args()
    result = score_run(args.run, args.data, args.min_sizes, args.min_depths, args.checkpoint)
    print(
        f"{result['images']} validation images, pixel Dice {result['dice']:.3f}, "
        f"{result['true']} true objects"
    )
    print("| seeds | smallest object px | seed depth px | F1@0.5 | predicted objects |")
    print("|---|---|---|---|---|")
    for row in result["rows"]:
        print(
            f"| {row['seeds']} | {row['min_size_px']} | {row['min_depth_px']:g} | "
            f"{row['f1@0.5']:.3f} | {row['predicted']} |"
        )
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        document = {"run": str(args.run), "checkpoint": args.checkpoint, **result}
        args.results.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
