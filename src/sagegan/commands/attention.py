"""``sagegan attention``: attention-map figures of a run (evolution and overlays)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sagegan.commands.common import add_run_option

NAME = "attention"
HELP = "attention-map figures of a run: evolution over epochs and overlays on validation images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_option(parser)
    parser.add_argument("--out", required=True, help="output folder for the figures")
    parser.add_argument("--data", help="dataset folder, for overlays on validation images")
    parser.add_argument("--max-images", type=int, default=8, help="overlay images (8)")


def run(args: argparse.Namespace) -> int:
    from sagegan.report import attention_evolution, attention_overlays

    out = Path(args.out)
    figure = attention_evolution(args.model, out / "attention_evolution.png")
    print(f"attention evolution ({', '.join(s.label for s in figure.snapshots)}): {figure.path}")
    if args.data:
        paths = attention_overlays(args.model, args.data, out, max_images=args.max_images)
        print(f"attention overlays on {len(paths) - 1} validation image(s): {paths[-1]}")
    return 0
