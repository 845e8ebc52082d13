"""``sagegan compare``: baselines, SAGE-GAN and the loss ablation over seeds and sizes."""

from __future__ import annotations

import argparse
from pathlib import Path

from sagegan.commands.common import (
    add_data_argument,
    add_group_option,
    add_mask_dir_option,
    add_preset_option,
    add_set_option,
    add_split_file_option,
    parse_overrides,
    write_report,
)
from sagegan.errors import ConfigError

NAME = "compare"
HELP = "the paper's comparison: baselines, SAGE-GAN and the loss ablation over seeds and sizes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    parser.add_argument("--out", required=True, help="output folder (runs, tables, plot)")
    parser.add_argument(
        "--methods",
        nargs="+",
        metavar="METHOD",
        help="methods to run (default: all but classical): unet, unet_plus_plus, half_unet, "
        "dc_unet, attention_unet, cgan_seg, sage_gan, attention_unet_dice, sage_gan_dice, "
        "classical (blur + Otsu + watershed, no training)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method (default 3)")
    parser.add_argument(
        "--train-sizes",
        default="all",
        help="comma-separated training-set sizes, e.g. 10,20,all (default all)",
    )
    add_preset_option(
        parser,
        default="cpu-small",
        help="size preset (default cpu-small; auto plans each run from its training subset)",
    )
    add_split_file_option(parser, help="split file (default: made once)")
    add_group_option(
        parser,
        help="stratify the training subsets by sample: a pattern whose first group is a file "
        "stem's sample, e.g. '^([a-z]+)_' (the subsets take the samples in turn)",
    )
    parser.add_argument(
        "--paper-protocol",
        action="store_true",
        help="also score every run the SAGE-GAN code's way (512x768, eroded masks, F1@0.5)",
    )
    add_mask_dir_option(parser, help="mask folder name for evaluation")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes running (size, seed) groups side by side, sharing the torch threads "
        "(default 1; e.g. 2 on a 2-core CPU: small networks use one thread best)",
    )
    add_set_option(parser, help="override for every run")


def _train_size(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise ConfigError(
            f"--train-sizes: expected numbers of images or 'all', got {text!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    from sagegan.compare import run_comparison

    result = run_comparison(
        args.data,
        args.out,
        **({"methods": tuple(args.methods)} if args.methods else {}),
        seeds=tuple(range(args.seeds)),
        train_sizes=tuple(_train_size(t) for t in args.train_sizes.split(",")),
        preset=args.preset,
        split_file=args.split,
        mask_dir=args.mask_dir,
        overrides=parse_overrides(args.set),
        paper_protocol=args.paper_protocol,
        group_pattern=args.group,
        workers=args.workers,
    )
    print(result.files["markdown"].read_text())
    print(f"wrote {', '.join(str(path) for path in result.files.values())}")
    write_report([result.out], Path(result.out) / "report.html", "sagegan comparison")
    return 0
