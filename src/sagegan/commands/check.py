"""``sagegan check``: verify a dataset (pairs, sizes, masks, calibration, databar)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sagegan.commands.common import (
    add_calibration_options,
    databar_mode,
    parse_size,
    pixel_size_nm,
)
from sagegan.errors import DataError

NAME = "check"
HELP = "verify a dataset: pairs, sizes, masks, calibration, databar"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="dataset folder (images/ + masks/, or X + X_mask files)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="unpaired files and data warnings (e.g. inverted masks, tiny images) are an error",
    )
    parser.add_argument(
        "--patch-size",
        type=parse_size,
        metavar="HxW",
        help="training patch (e.g. 256 or 512x768): images smaller than it are reported",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    add_calibration_options(parser)


def run(args: argparse.Namespace) -> int:
    from sagegan.data.check import check_dataset

    report = check_dataset(
        args.data,
        strict=args.strict,
        databar=databar_mode(args),
        pixel_size_nm=pixel_size_nm(args),
        patch_size=args.patch_size,
    )
    print(report.to_text())
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        except OSError as err:
            raise DataError(args.json, f"cannot write the JSON report ({err})") from None
    return 0 if report.ok else 1
