"""``sagegan demo``: the whole pipeline on simulated SEM images."""

from __future__ import annotations

import argparse

from sagegan.commands.common import add_preset_option, add_seed_option

NAME = "demo"
HELP = "run the whole pipeline on simulated SEM images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    parser.add_argument("--n", type=int, default=40, help="number of simulated images (default 40)")
    add_seed_option(parser)
    add_preset_option(
        parser,
        choices=("cpu-small", "tiny"),
        default="cpu-small",
        help="training size: cpu-small (about 9 min on 2 CPU cores, default) "
        "or tiny (a smoke test)",
    )


def run(args: argparse.Namespace) -> int:
    from sagegan.demo import run_demo

    run_demo(out=args.out, n_images=args.n, seed=args.seed, preset=args.preset)
    return 0
