"""``sagegan segment``: masks, probabilities, instances and attention of images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sagegan.commands.common import (
    BUILTIN,
    add_calibration_options,
    add_domain_option,
    add_prediction_options,
    add_scaleout_options,
    prediction_options,
    say_builtin,
)

NAME = "segment"
HELP = (
    "segment images with a trained run or the builtin model: masks, probabilities, "
    "instances, attention"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="image files, folders or globs")
    parser.add_argument(
        "--model",
        default=BUILTIN,
        help="training run folder, weights file or builtin (default: the builtin generalist model)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--rois",
        action="store_true",
        help="also write <stem>_rois.zip: one ImageJ polygon ROI per particle, for Fiji",
    )
    add_prediction_options(parser)
    add_domain_option(parser)
    add_calibration_options(parser)
    add_scaleout_options(parser)


def run(args: argparse.Namespace) -> int:
    from sagegan.infer import segment_images

    if args.model == BUILTIN:
        say_builtin()
    options = prediction_options(args)
    summary = segment_images(
        args.inputs,
        args.model,
        Path(args.out),
        options,
        rois=args.rois,
        workers=args.workers,
        scheduler=args.scheduler,
    )
    print(f"segmented {len(summary.results)} image(s) into {summary.out}")
    unlike = [result.stem for result in summary.results if result.domain_reasons]
    if unlike:
        print(
            f"{len(unlike)} image(s) look unlike the model's training images, check their masks: "
            + ", ".join(unlike)
        )
    for failure in summary.failures:
        print(f"failed: {failure.message}", file=sys.stderr)
    return 0 if summary.ok else 1
