"""``sagegan split``: a deterministic train/val/test split (or K folds), saved once."""

from __future__ import annotations

import argparse
from pathlib import Path

from sagegan.commands.common import add_group_option, add_seed_option
from sagegan.errors import ConfigError

NAME = "split"
HELP = "make a deterministic train/val/test split and save it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="dataset folder")
    parser.add_argument("--out", required=True, help="split JSON file to write")
    add_seed_option(parser)
    parser.add_argument("--val", type=float, default=0.15, help="validation fraction (0.15)")
    parser.add_argument("--test", type=float, default=0.15, help="test fraction (0.15)")
    parser.add_argument("--kfold", type=int, metavar="K", help="write K cross-validation folds")
    add_group_option(
        parser, help="stratify by sample: REGEX's first group in the file name, e.g. '^([a-z]+)_'"
    )
    parser.add_argument("--strict", action="store_true", help="unpaired files are an error")


def run(args: argparse.Namespace) -> int:
    from sagegan.data.pairing import find_pairs
    from sagegan.data.splits import (
        groups_from_pattern,
        kfold_splits,
        make_grouped_split,
        make_split,
        save_split,
    )

    if args.kfold is not None and args.kfold < 2:
        raise ConfigError(f"--kfold must be >= 2 (the number of folds), got {args.kfold}")
    if args.group and args.kfold is not None:
        raise ConfigError("--group and --kfold cannot be combined")
    stems = [pair.stem for pair in find_pairs(args.data, strict=args.strict)]
    if args.group:
        groups = groups_from_pattern(stems, args.group)
        split = make_grouped_split(stems, groups, args.seed, args.val, args.test)
        save_split(split, args.out)
        print(f"{_split_summary(split)}, stratified by {len(set(groups.values()))} groups")
        print(f"-> {args.out}")
        return 0
    if args.kfold is not None:
        out = Path(args.out)
        for fold, split in enumerate(
            kfold_splits(stems, k=args.kfold, seed=args.seed, test_fraction=args.test)
        ):
            path = out.with_name(f"{out.stem}_fold{fold}{out.suffix or '.json'}")
            save_split(split, path)
            print(f"fold {fold}: {_split_summary(split)} -> {path}")
        return 0
    split = make_split(stems, seed=args.seed, val_fraction=args.val, test_fraction=args.test)
    save_split(split, args.out)
    print(f"{_split_summary(split)} -> {args.out}")
    return 0


def _split_summary(split) -> str:
    return f"train {len(split.train)}, val {len(split.val)}, test {len(split.test)}"
