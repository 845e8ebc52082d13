"""``sagegan report``: one self-contained HTML report of result folders."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = (
    "one self-contained HTML report (works offline) of runs, evaluations, segmentations, "
    "comparisons and analyses"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="+", help="result folders, or folders holding them (e.g. demo_out)"
    )
    parser.add_argument("--out", required=True, help="HTML file to write, e.g. report.html")
    parser.add_argument("--title", help="page title (default: sagegan report)")
    parser.add_argument(
        "--max-images", type=int, default=6, help="segmented images shown with overlays (6)"
    )


def run(args: argparse.Namespace) -> int:
    from sagegan.report import write_report

    path = write_report(args.inputs, args.out, title=args.title, max_images=args.max_images)
    print(f"wrote report {path}")
    return 0
