"""``sagegan analyze``: particle sizes in nm and spatial order of labelled images."""

from __future__ import annotations

import argparse
import sys

from sagegan.commands.common import (
    BUILTIN,
    add_calibration_options,
    add_domain_option,
    add_prediction_options,
    add_scaleout_options,
    add_seed_option,
    databar_override,
    pixel_size_nm,
    prediction_options,
    say_builtin,
    write_report,
)

NAME = "analyze"
HELP = "particle sizes in nm and spatial order (g(r), psi6, rings) of labelled images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("--out", required=True, help="output folder (CSV, JSON, figures, report)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--model",
        help="segment the images first with this run folder or builtin (the default when no "
        "--labels are given)",
    )
    source.add_argument("--labels", metavar="DIR", help="folder of label/mask files, by stem")
    parser.add_argument(
        "--include-edges",
        action="store_true",
        help="use particles touching the border in size statistics (default: excluded)",
    )
    parser.add_argument(
        "--min-area", type=int, default=0, metavar="PX", help="drop objects under PX pixels (0)"
    )
    parser.add_argument(
        "--references", type=int, default=50, help="random (CSR) patterns per image (50)"
    )
    add_seed_option(parser, help="seed of the random patterns (0)")
    parser.add_argument(
        "--max-figures", type=int, default=12, help="images with overlay and g(r) figures (12)"
    )
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")
    add_prediction_options(parser)
    add_domain_option(parser)
    add_calibration_options(parser)
    add_scaleout_options(parser)


def run(args: argparse.Namespace) -> int:
    from sagegan.analysis import OrderOptions, analyze_images
    from sagegan.infer import PredictionOptions

    if args.model is None and args.labels is None:
        args.model = BUILTIN
        say_builtin()
    if args.model:
        options = prediction_options(args)
    else:  # labels given: only the calibration and databar options apply
        options = PredictionOptions(
            pixel_size_nm=pixel_size_nm(args), databar=databar_override(args)
        )
    result = analyze_images(
        args.inputs,
        args.out,
        labels_dir=args.labels,
        model=args.model,
        options=options,
        exclude_edges=not args.include_edges,
        min_area_px=args.min_area,
        order=OrderOptions(n_reference=args.references, seed=args.seed),
        max_figures=args.max_figures,
        workers=args.workers,
        scheduler=args.scheduler,
    )
    print(result.files["markdown"].read_text())
    print(f"wrote {', '.join(str(path) for path in result.files.values())}")
    if not args.no_report:
        write_report([result.out], result.out / "report.html", "sagegan particle analysis")
    for _, message in result.failures:
        print(f"failed: {message}", file=sys.stderr)
    return 1 if result.failures else 0
