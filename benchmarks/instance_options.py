"""How a trained run's predictions become instances: object F1 on its validation split for each
instance-split setting (smallest kept object and seed depth, fixed or scaled per image to its
typical particle; for a model with an instance head, with and without its boundary channel
cutting the mask, and seeded by its centre map when it has one).

The network runs once per image; only the split is repeated. The validation split chooses, the test
split is not read:

    python benchmarks/instance_options.py RUN DATA --min-sizes 10 76 150 --min-depths 1 4 \\
        --results benchmarks/results/instance_options_emps.json

``--size-fractions`` and ``--depth-fractions`` add the per-image scaled settings
(`split_instances`' ``min_size_fraction`` and ``min_depth_fraction``; 0 is fixed), as
docs/accuracy.md section 10 compared them: ``--min-sizes 76 --size-fractions 0.3 --min-depths 8
--depth-fractions 0 0.15 0.25 0.35 0.5 0.75``. ``--split test`` scores the test split instead,
to read after a choice made on validation. ``--thresholds`` scores foreground thresholds other
than 0.5 (each changes the mask, so each row has its own pixel Dice); ``--boundary-thresholds``
the instance head's cut (the boundary probability above which a contact is cut; 0.5 by default);
``--centre-thresholds`` the cores of its centre map that seed the watershed (0.5 by default).

Prints mean pixel Dice at 0.5 and, per setting, mean Dice, F1@0.5 and the predicted against the
true object count.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import load_split
from sagegan.infer.instances import split_instances
from sagegan.infer.scaling import predict_at_scale
from sagegan.infer.tiling import predict_tiled
from sagegan.metrics.objects import match_instances
from sagegan.metrics.pixel import pixel_scores
from sagegan.models.builtin import is_builtin, model_location
from sagegan.models.checkpoint import load_model, read_training_info, training_scale
from sagegan.models.run_folder import RunFolder


def settings(
    min_sizes: list[int],
    min_depths: list[float],
    heads: int,
    size_fractions: tuple[float, ...] = (0.0,),
    depth_fractions: tuple[float, ...] = (0.0,),
    thresholds: tuple[float, ...] = (0.5,),
    boundary_thresholds: tuple[float, ...] = (0.5,),
    centre_thresholds: tuple[float, ...] = (0.5,),
) -> list[dict[str, Any]]:
    """Every setting to score: each smallest object and seed depth (fixed, or scaled per image by
    a fraction > 0) with distance seeds from the whole mask, then, for a model with an instance
    head (``heads`` output channels: 2 or 3), from the mask with its boundaries cut out at each
    boundary threshold, then, with a centre map (3), from its cores above each centre threshold;
    each at every foreground threshold."""
    seeds = [("distance", 0.5, 0.5)]
    if heads >= 2:
        seeds += [("boundary", cut, 0.5) for cut in boundary_thresholds]
    if heads >= 3:
        seeds += [("centre", 0.5, core) for core in centre_thresholds]
    return [
        {
            "seeds": kind,
            "boundary_threshold": cut,
            "centre_threshold": core,
            "min_size_px": size,
            "min_size_fraction": size_fraction,
            "min_depth_px": depth,
            "min_depth_fraction": depth_fraction,
            "threshold": threshold,
        }
        for kind, cut, core in seeds
        for size in min_sizes
        for size_fraction in size_fractions
        for depth in min_depths
        for depth_fraction in depth_fractions
        for threshold in thresholds
    ]


def run_images(
    run: Path, which: str, part: str, split_file: Path | None = None
) -> tuple[Any, dict[str, Any], list[str]]:
    """A run's checkpoint ``which`` (its model and training info; ``run`` may be ``builtin``)
    and the stems of the ``part`` (``val`` or ``test``) of ``split_file``, by default the split
    the run was trained with."""
    model, info = load_model(model_location(run), which)
    training = read_training_info(Path(info["path"]))
    if split_file is None:
        split_file = None if is_builtin(run) else RunFolder(run).training_split(training)
    if split_file is None:
        raise SystemExit(f"{run}: no split file recorded; give --split-file")
    return model, training, getattr(load_split(split_file), part)


def score_run(
    run: Path,
    data: Path,
    chosen_settings: dict[str, Any],
    which: str,
    part: str = "val",
    split_file: Path | None = None,
) -> dict[str, Any]:
    """Per-setting mean F1@0.5 and object counts over the run's validation (or test) images
    (of ``split_file`` when given); ``chosen_settings``: the keyword arguments of
    :func:`settings` but ``heads``."""
    model, training, stems = run_images(run, which, part, split_file)
    scale = training_scale(training)  # the run's working resolution, maps back on the native grid
    pairs = {pair.stem: pair for pair in find_pairs(data)}
    chosen = settings(heads=model.head.out_channels, **chosen_settings)
    f1 = np.zeros((len(chosen), len(stems)))
    row_dice = np.zeros((len(chosen), len(stems)))
    counts = np.zeros(len(chosen))
    dice, true_count = [], 0
    for column, stem in enumerate(stems):
        sample = load_sample(pairs[stem])
        prediction = predict_at_scale(partial(predict_tiled, model), sample.image, scale)
        truth = np.asarray(sample.labels)
        true_count += len(np.unique(truth[truth > 0]))
        threshold_dice = {
            threshold: pixel_scores(prediction.probability > threshold, truth > 0)["dice"]
            for threshold in {0.5, *(setting["threshold"] for setting in chosen)}
        }
        dice.append(threshold_dice[0.5])
        for row, setting in enumerate(chosen):
            with_head = setting["seeds"] != "distance"
            centre = prediction.centre if setting["seeds"] == "centre" else None
            labels = split_instances(
                prediction.probability,
                threshold=setting["threshold"],
                min_size_px=setting["min_size_px"],
                min_depth_px=setting["min_depth_px"],
                boundary=prediction.boundary if with_head else None,
                min_size_fraction=setting["min_size_fraction"],
                min_depth_fraction=setting["min_depth_fraction"],
                boundary_threshold=setting["boundary_threshold"],
                centre=centre,
                centre_threshold=setting["centre_threshold"],
            )
            f1[row, column] = match_instances(truth, labels, thresh=0.5).f1
            row_dice[row, column] = threshold_dice[setting["threshold"]]
            counts[row] += int(labels.max())
    rows = [
        {
            **setting,
            "dice": float(row_dice[row].mean()),
            "f1@0.5": float(f1[row].mean()),
            "predicted": int(counts[row]),
        }
        for row, setting in enumerate(chosen)
    ]
    return {"images": len(stems), "dice": float(np.mean(dice)), "true": true_count, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run folder, or builtin")
    parser.add_argument("data", type=Path, help="the dataset folder to score")
    parser.add_argument("--split-file", type=Path, help="its split (default: the run's own)")
    parser.add_argument("--min-sizes", type=int, nargs="+", default=[10])
    parser.add_argument("--min-depths", type=float, nargs="+", default=[1.0])
    parser.add_argument("--size-fractions", type=float, nargs="+", default=[0.0])
    parser.add_argument("--depth-fractions", type=float, nargs="+", default=[0.0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5])
    parser.add_argument("--boundary-thresholds", type=float, nargs="+", default=[0.5])
    parser.add_argument("--centre-thresholds", type=float, nargs="+", default=[0.5])
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--results", type=Path, help="write the table as JSON here")
    args = parser.parse_args()
    chosen = {
        "min_sizes": args.min_sizes,
        "min_depths": args.min_depths,
        "size_fractions": tuple(args.size_fractions),
        "depth_fractions": tuple(args.depth_fractions),
        "thresholds": tuple(args.thresholds),
        "boundary_thresholds": tuple(args.boundary_thresholds),
        "centre_thresholds": tuple(args.centre_thresholds),
    }
    result = score_run(args.run, args.data, chosen, args.checkpoint, args.split, args.split_file)
    print(
        f"{result['images']} {args.split} images, pixel Dice {result['dice']:.3f}, "
        f"{result['true']} true objects"
    )
    print(
        "| seeds (cut) | threshold | smallest object px (fraction) | seed depth px (fraction) "
        "| Dice | F1@0.5 | objects |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in result["rows"]:
        cuts = {"boundary": row["boundary_threshold"], "centre": row["centre_threshold"]}
        cut = f" ({cuts[row['seeds']]:g})" if row["seeds"] in cuts else ""
        print(
            f"| {row['seeds']}{cut} | {row['threshold']:g} | {row['min_size_px']} "
            f"({row['min_size_fraction']:g}) | {row['min_depth_px']:g} "
            f"({row['min_depth_fraction']:g}) | {row['dice']:.3f} | {row['f1@0.5']:.3f} | "
            f"{row['predicted']} |"
        )
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "run": str(args.run),
            "checkpoint": args.checkpoint,
            "split": args.split,
            **result,
        }
        args.results.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
