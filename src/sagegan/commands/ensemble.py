"""``sagegan ensemble``: combine trained runs that share a split into one averaged model."""

from __future__ import annotations

import argparse

from sagegan.commands.common import (
    add_checkpoint_option,
    add_data_argument,
    add_device_option,
    add_mask_dir_option,
)

NAME = "ensemble"
HELP = "combine runs trained on one split into an ensemble that averages their maps"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser, help="the dataset the runs trained on (its validation images)")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="two or more training run folders")
    parser.add_argument(
        "--out",
        required=True,
        help="ensemble folder (ensemble.json): give it as --model to segment, evaluate, analyze",
    )
    add_checkpoint_option(parser)
    add_mask_dir_option(parser, help="mask folder name (default masks; e.g. labels)")
    add_device_option(parser)


def run(args: argparse.Namespace) -> int:
    from sagegan.infer.options import PredictionOptions
    from sagegan.train.ensemble import compose_ensemble

    options = PredictionOptions(device=args.device)
    file, _ = compose_ensemble(
        args.runs, args.data, args.out, args.checkpoint, args.mask_dir, options
    )
    print(f"ensemble of {len(args.runs)} runs -> {file}")
    return 0
