"""``sagegan generate``: synthetic image/mask pairs from a trained SAGE-GAN generator."""

from __future__ import annotations

import argparse
import json

from sagegan.commands.common import add_device_option, add_run_option, add_seed_option, parse_size

NAME = "generate"
HELP = "make synthetic image/mask pairs with a trained SAGE-GAN generator"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_option(parser, help="training run folder (GAN stage done)")
    parser.add_argument("--out", required=True, help="output folder (images/, masks/, labels/)")
    parser.add_argument("--masks", metavar="DIR", help="render these mask files")
    parser.add_argument(
        "--split",
        metavar="FILE",
        help="render only the masks of this split file's training images (e.g. the run's)",
    )
    parser.add_argument("--synth", type=int, default=0, metavar="N", help="N simulator layouts")
    parser.add_argument(
        "--rearranged",
        type=int,
        default=0,
        metavar="N",
        help="N masks of re-arranged particles cut from --masks",
    )
    parser.add_argument("--styles", type=int, default=3, help="styles per mask (default 3)")
    parser.add_argument(
        "--size", type=parse_size, help="HxW of new masks (default: training patch)"
    )
    parser.add_argument(
        "--real", metavar="DIR", help="real images to measure realism (statistics, KID) against"
    )
    add_seed_option(parser)
    parser.add_argument(
        "--checkpoint", default="best", choices=["best", "last"], help="which weights (best)"
    )
    add_device_option(parser)


def run(args: argparse.Namespace) -> int:
    from sagegan.generate import generate_pairs

    result = generate_pairs(
        args.model,
        args.out,
        masks_dir=args.masks,
        n_synth=args.synth,
        rearranged=args.rearranged,
        styles_per_mask=args.styles,
        seed=args.seed,
        size=args.size,
        which=args.checkpoint,
        device=args.device,
        real_dir=args.real,
        train_split=args.split,
    )
    print(f"wrote {result.count} synthetic image/mask pairs to {result.out}")
    if result.realism is not None:
        print("realism vs real images: " + json.dumps(result.realism))
    return 0
