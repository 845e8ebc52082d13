"""The `sagegan` command line: one verb per job, folder in, folder out.

This module builds the parser from the verbs of `sagegan.commands` (one module each, its options
and its handler) and dispatches; no work is done here.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from sagegan import __version__
from sagegan.commands import COMMANDS
from sagegan.commands.common import BUILTIN, SEGMENTER_CHECKPOINTS, OneLineErrors
from sagegan.errors import SageganError

__all__ = ["BUILTIN", "SEGMENTER_CHECKPOINTS", "build_parser", "main"]

DEBUG_VARIABLE = "SAGEGAN_DEBUG"  # set to 1: unexpected errors end in their full traceback

DESCRIPTION = """\
sagegan: segment and measure nanoparticles in SEM/TEM images from a few labelled examples.

Typical use:
  sagegan demo --out demo_out              whole pipeline on simulated images (no data needed)
  sagegan check my_data/                   verify image/mask pairs, calibration and databar
  sagegan synth --n 40 --out synth/        simulate SEM images of nanoparticles with exact masks
  sagegan split my_data/ --out split.json  fix the train/val/test split once for every later run
  sagegan segment imgs/ --out seg/         segment with the builtin pretrained model, no training
  sagegan train my_data/ --out runs/a      pretrain + SAGE-GAN stage (add --resume after a crash)
  sagegan train my_data/ --out runs/b --init builtin   fine-tune the builtin model on a few images
  sagegan segment imgs/ --model runs/a --out seg/   masks, instances, attention overlays
  sagegan export --onnx runs/a             ONNX model for fast CPU inference (--backend onnx)
  sagegan analyze imgs/ --labels seg/ --out an/     sizes in nm, g(r), psi6, rings + report
  sagegan report runs/a --out report.html  one HTML file of a run and its results (offline)

A dataset folder holds images/ and masks/ with matching file names (any image format),
or one folder with X.tif + X_mask.png pairs. Masks: any non-zero pixel is particle;
16-bit label maps are kept as instances.
"""


def build_parser() -> argparse.ArgumentParser:
    """The `sagegan` parser: global options and one sub-parser per verb of `COMMANDS`, each
    remembering its handler (``func``) and its own parser (``verb_parser``)."""
    parser = OneLineErrors(
        prog="sagegan",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sagegan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="print debug messages")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for command in COMMANDS:
        sub = verbs.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        sub.set_defaults(func=command.run, verb_parser=sub)
        command.add_arguments(sub)
        sub.add_argument(
            "--debug",
            action="store_true",
            help=f"show the full traceback of an unexpected error (also: {DEBUG_VARIABLE}=1)",
        )
    return parser


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings for users: one line, no source location."""
    return f"warning: {message}\n"


FILE_OUTPUTS = {"report", "split", "export"}  # verbs whose --out is a file, not a folder


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse an output location that cannot be written before any work starts."""
    from sagegan.data.output_paths import check_output_file, check_output_folder

    if getattr(args, "out", None):
        check = check_output_file if args.verb in FILE_OUTPUTS else check_output_folder
        check(args.out)
    if getattr(args, "json", None):
        check_output_file(args.json)


def unexpected_error_line(verb: str, err: BaseException) -> str:
    """One line for an exception that is not a `SageganError`: the file and the system's reason
    for an OSError (a full disk, a permission), a hint for memory, else the exception's type and
    text with a pointer to ``--debug``."""
    prefix = f"sagegan {verb}: error:"
    if isinstance(err, OSError):
        where = f"{err.filename}: " if err.filename else ""
        return f"{prefix} {where}{err.strerror or err}"
    if isinstance(err, MemoryError) or "OutOfMemory" in type(err).__name__:
        return f"{prefix} out of memory: try a smaller --tile or --batch-size, or a smaller patch"
    text = " ".join(str(err).split())[:300]
    return (
        f"{prefix} unexpected {type(err).__name__}: {text} "
        f"(rerun with --debug for the traceback, and please report it)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sagegan` console script; returns the process exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the verb's own parser, whose --help lists the options
        args.verb_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    warnings.formatwarning = _format_warning
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        _check_outputs(args)
        return args.func(args)
    except SageganError as err:
        print(f"sagegan {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sagegan {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        print(unexpected_error_line(args.verb, err), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
