"""``sagegan evaluate``: pixel and object metrics of a trained run on a split."""

from __future__ import annotations

import argparse
import sys

from sagegan.commands.common import (
    add_calibration_options,
    add_data_argument,
    add_mask_dir_option,
    add_prediction_options,
    add_run_option,
    prediction_options,
)

NAME = "evaluate"
HELP = "score a trained run on a split at native resolution (pixel and object metrics)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    add_run_option(parser)
    parser.add_argument("--out", required=True, help="folder for metrics.json, CSV, summary.md")
    parser.add_argument(
        "--split",
        choices=["test", "val", "train", "all"],
        default="test",
        help="which part of the run's split to score (default: the held-out test part)",
    )
    parser.add_argument("--split-file", metavar="JSON", help="another split file")
    parser.add_argument(
        "--protocol",
        choices=["native", "paper"],
        default="native",
        help="native (default) or the SAGE-GAN code's way: 512x768, eroded masks, F1@0.5",
    )
    add_mask_dir_option(parser, help="mask folder name (e.g. labels)")
    add_prediction_options(parser)
    add_calibration_options(parser)


def run(args: argparse.Namespace) -> int:
    from sagegan.evaluate import evaluate_run, format_summary

    result = evaluate_run(
        args.model,
        args.data,
        out=args.out,
        split=args.split,
        split_file=args.split_file,
        protocol=args.protocol,
        mask_dir=args.mask_dir,
        options=prediction_options(args),
    )
    print(format_summary(result.summary))
    print(f"wrote {', '.join(str(path) for path in result.files.values())}")
    for _, message in result.failures:
        print(f"failed: {message}", file=sys.stderr)
    return 1 if result.failures else 0
