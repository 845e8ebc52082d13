"""``sagegan export``: a trained segmenter as ONNX for fast CPU inference."""

from __future__ import annotations

import argparse
import json

from sagegan.commands.common import add_checkpoint_option

NAME = "export"
HELP = "export a trained segmenter for fast CPU inference (ONNX Runtime: segment --backend onnx)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--onnx", required=True, metavar="RUN", help="training run folder (or weights file)"
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="ONNX file to write (default: RUN/export/segmenter.onnx; segmenter-<checkpoint>.onnx "
        "for another --checkpoint)",
    )
    add_checkpoint_option(parser)


def run(args: argparse.Namespace) -> int:
    from sagegan.infer.export import export_onnx, sidecar_path

    path = export_onnx(args.onnx, out=args.out, which=args.checkpoint)
    record = json.loads(sidecar_path(path).read_text())
    diff = record["verification"]["max_abs_diff"]
    print(f"exported {record['weights']} to {path} (ONNX Runtime vs PyTorch max |diff| {diff:.2g})")
    print(f"sidecar: {sidecar_path(path)}")
    return 0
