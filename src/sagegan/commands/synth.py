"""``sagegan synth``: simulated SEM images of nanoparticles with exact masks."""

from __future__ import annotations

import argparse

from sagegan.commands.common import add_seed_option, parse_size

NAME = "synth"
HELP = "simulate SEM images of nanoparticles with exact masks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (images/, masks/, labels/)")
    parser.add_argument("--n", type=int, default=40, help="number of images (default 40)")
    parser.add_argument("--size", type=parse_size, default=(512, 768), help="HxW (default 512x768)")
    add_seed_option(parser)
    parser.add_argument(
        "--style",
        choices=["pdc", "tio2", "mixed"],
        default="mixed",
        help="look of the images: Pd/C-like, TiO2-like or a mix (default)",
    )
    parser.add_argument(
        "--databar",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of drawing an instrument databar at the bottom (default 0)",
    )
    parser.add_argument("--pixel-size", metavar="SIZE", help='pixel size, e.g. "2nm"')
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an earlier simulation in --out"
    )


def run(args: argparse.Namespace) -> int:
    from sagegan.synth import SimulatorConfig, write_dataset

    overrides: dict[str, object] = {"databar_probability": args.databar}
    if args.pixel_size is not None:
        from sagegan.data.calibration import parse_pixel_size

        overrides["pixel_size_nm"] = parse_pixel_size(args.pixel_size)
    config = SimulatorConfig.preset(args.style, size=args.size, **overrides)
    out = write_dataset(args.out, n=args.n, seed=args.seed, config=config, overwrite=args.overwrite)
    print(f"wrote {args.n} simulated image/mask pairs to {out}")
    return 0
