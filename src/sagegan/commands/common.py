"""What the command modules share: the one-line-error parser, argument types, the options several
verbs declare, the prediction and calibration options and their conversion to
`PredictionOptions`, ``--set`` parsing.

Nothing here imports torch at import time: parsing the command line stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from sagegan.errors import ConfigError

if TYPE_CHECKING:
    from sagegan.infer.options import PredictionOptions

BUILTIN = "builtin"  # the shipped model's name (sagegan.models.builtin.BUILTIN; torch-free here)
DEVICE_HELP = "auto (default: cuda when available, else cpu), cpu, cuda or cuda:N"
# a run's segmenter checkpoints (the pointers of sagegan.models.checkpoint, kept here so that
# parsing imports no torch)
SEGMENTER_CHECKPOINTS = ("best", "last", "best-pretrain", "best-gan")
CHECKPOINT_HELP = (
    "which weights: best (default: chosen on validation over both stages), last, best-pretrain "
    "(best of stage 1) or best-gan (best GAN-stage epoch)"
)
# the training presets (sagegan.train.config_presets.PRESETS, kept here so that parsing imports
# no torch)
PRESET_CHOICES = ("auto", "cpu-small", "paper", "tiny")
DATA_HELP = "dataset folder (images/ + masks/)"
SEED_HELP = "random seed (default 0)"


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2), naming where
    the full usage is, instead of the usage text followed by the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_seed(text: str) -> int:
    """A random seed: an integer in [0, 2**32)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, 2**32), got {value}")
    return value


def parse_size(text: str) -> tuple[int, int]:
    """Parse "HxW" (or a single number for a square) into (height, width)."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 512x768, got {text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 8:
        raise argparse.ArgumentTypeError(f"size must look like 512x768 (>= 8 px), got {text!r}")
    return values[0], values[1]


def add_data_argument(parser: argparse.ArgumentParser, help: str = DATA_HELP) -> None:
    """The dataset folder, the verb's first positional argument."""
    parser.add_argument("data", help=help)


def add_run_option(parser: argparse.ArgumentParser, help: str = "training run folder") -> None:
    """--model: the training run folder the verb reads (required)."""
    parser.add_argument("--model", required=True, help=help)


def add_preset_option(
    parser: argparse.ArgumentParser,
    help: str,
    default: str | None = None,
    choices: Sequence[str] = PRESET_CHOICES,
) -> None:
    """--preset: the training preset, one of ``choices``."""
    parser.add_argument("--preset", choices=list(choices), default=default, help=help)


def add_set_option(parser: argparse.ArgumentParser, help: str) -> None:
    """--set KEY=VALUE: repeatable config overrides (read by `parse_overrides`)."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=help)


def add_seed_option(
    parser: argparse.ArgumentParser, default: int | None = 0, help: str = SEED_HELP
) -> None:
    """--seed: a random seed (`parse_seed`)."""
    parser.add_argument("--seed", type=parse_seed, default=default, help=help)


def add_split_file_option(parser: argparse.ArgumentParser, help: str) -> None:
    """--split JSON: a split file (from `sagegan split`)."""
    parser.add_argument("--split", metavar="JSON", help=help)


def add_mask_dir_option(parser: argparse.ArgumentParser, help: str) -> None:
    """--mask-dir NAME: the mask folder's name inside the dataset folder."""
    parser.add_argument("--mask-dir", metavar="NAME", help=help)


def add_group_option(parser: argparse.ArgumentParser, help: str) -> None:
    """--group REGEX: the pattern whose first group is a file stem's sample."""
    parser.add_argument("--group", metavar="REGEX", help=help)


def add_device_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None = "auto"
) -> None:
    """--device: where torch runs (`DEVICE_HELP`)."""
    parser.add_argument("--device", default=default, help=DEVICE_HELP)


def add_checkpoint_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--checkpoint: which of a run's segmenter weights (`SEGMENTER_CHECKPOINTS`)."""
    parser.add_argument(
        "--checkpoint", default="best", choices=SEGMENTER_CHECKPOINTS, help=CHECKPOINT_HELP
    )


def add_calibration_options(parser: argparse.ArgumentParser) -> None:
    """--pixel-size and the databar options (--crop-bottom, --no-databar-crop)."""
    group = parser.add_argument_group("calibration and databar")
    group.add_argument(
        "--pixel-size",
        metavar="SIZE",
        help='pixel size overriding the file metadata, e.g. "1.25nm" or "0.002um"',
    )
    bar = group.add_mutually_exclusive_group()
    bar.add_argument(
        "--crop-bottom",
        type=int,
        metavar="N",
        help="crop exactly N rows of instrument databar from the bottom of every image",
    )
    bar.add_argument(
        "--no-databar-crop",
        action="store_true",
        help="never crop a databar (default: detect and crop it automatically)",
    )


def add_prediction_options(parser: argparse.ArgumentParser) -> None:
    """The options of `PredictionOptions` that the command line offers."""
    group = parser.add_argument_group("prediction")
    add_checkpoint_option(group)
    group.add_argument(
        "--tile", type=parse_size, default=(512, 512), help="sliding-window tile HxW (512x512)"
    )
    group.add_argument("--overlap", type=float, default=0.25, help="tile overlap (0.25)")
    group.add_argument("--tta", action="store_true", help="average over flips (4x slower)")
    group.add_argument("--threshold", type=float, default=0.5, help="probability threshold (0.5)")
    group.add_argument(
        "--min-size",
        type=int,
        metavar="PX",
        help="drop predicted objects under PX pixels (default: the run's instances.min_size_px)",
    )
    group.add_argument(
        "--seed-depth",
        type=float,
        metavar="PX",
        help="how far a distance peak must rise above its saddle to seed its own particle "
        "(default: the run's instances.min_depth_px)",
    )
    group.add_argument(
        "--min-size-fraction",
        type=float,
        metavar="F",
        help="per image, drop objects under F x the area of its typical particle (0 turns it "
        "off; default: the run's instances.min_size_fraction, 0.3 for the builtin model)",
    )
    group.add_argument(
        "--seed-depth-fraction",
        type=float,
        metavar="F",
        help="per image, set the seed depth to F x the inscribed radius of its typical particle "
        "(0 turns it off; default: the run's instances.min_depth_fraction)",
    )
    add_device_option(group)
    group.add_argument(
        "--backend",
        choices=["auto", "torch", "eager", "onnx"],
        default="auto",
        help="auto (default: the fastest measured on this machine, once, and said in one line), "
        "torch (channels_last, inference mode), eager (plain NCHW, the reference's way) or onnx "
        "(ONNX Runtime on RUN/export/segmenter.onnx, exported when missing)",
    )
    group.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="auto (default: bf16 only where this machine runs it faster), fp32, or bf16 "
        "autocast with the torch backend (logits change ~1e-2)",
    )
    group.add_argument(
        "--onnx", metavar="FILE", help="ONNX file for --backend onnx (default: the run's export)"
    )


def add_domain_option(parser: argparse.ArgumentParser) -> None:
    """--no-domain-check: skip the check of each image against the model's training images."""
    parser.add_argument(
        "--no-domain-check",
        dest="domain_check",
        action="store_false",
        help="do not check whether each image looks like the model's training images (by "
        "default an image that does not is named in one line and marked in its JSON)",
    )


def add_scaleout_options(parser: argparse.ArgumentParser) -> None:
    """--workers and --scheduler: many images at a time on local processes or a Dask cluster
    (`sagegan.infer.scaleout`; the optional extra sagegan[dask])."""
    group = parser.add_argument_group("scale-out over many images (pip install sagegan[dask])")
    group.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="process N images at a time in N local worker processes (default 1: one by one)",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="send one task per image to the Dask distributed cluster at ADDRESS "
        "(tcp://host:port); its workers must see the same files",
    )


def prediction_options(args: argparse.Namespace) -> PredictionOptions:
    """The `PredictionOptions` of the options `add_prediction_options` and
    `add_calibration_options` add (ConfigError for a bad value)."""
    from sagegan.infer import PredictionOptions

    return PredictionOptions(
        which=args.checkpoint,
        tile=args.tile,
        overlap=args.overlap,
        tta="flips" if args.tta else "none",
        threshold=args.threshold,
        min_size_px=args.min_size,
        min_depth_px=args.seed_depth,
        min_size_fraction=args.min_size_fraction,
        min_depth_fraction=args.seed_depth_fraction,
        device=args.device,
        backend=args.backend,
        precision=args.precision,
        onnx_path=args.onnx,
        databar=databar_override(args),
        pixel_size_nm=pixel_size_nm(args),
        domain_check=getattr(args, "domain_check", True),
    )


def databar_override(args: argparse.Namespace) -> str | int | None:
    """The databar option when given on the command line, else None (use the model's setting)."""
    explicit = args.no_databar_crop or args.crop_bottom is not None
    return databar_mode(args) if explicit else None


def databar_mode(args: argparse.Namespace) -> str | int:
    """The databar mode the calibration options give: "none", a row count or "auto"."""
    if args.no_databar_crop:
        return "none"
    if args.crop_bottom is not None:
        if args.crop_bottom < 0:
            raise ConfigError(f"--crop-bottom must be >= 0, got {args.crop_bottom}")
        return args.crop_bottom
    return "auto"


def pixel_size_nm(args: argparse.Namespace) -> float | None:
    """The --pixel-size option in nm, or None when not given."""
    if args.pixel_size is None:
        return None
    from sagegan.data.calibration import parse_pixel_size

    return parse_pixel_size(args.pixel_size)


def parse_overrides(pairs: Sequence[str]) -> dict[str, object]:
    """Parse --set KEY=VALUE options; values are read as YAML (numbers, lists, true/false)."""
    import yaml

    from sagegan.train.config import parse_yaml, yaml_problem

    overrides: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. gan.epochs=3), got {pair!r}")
        try:
            overrides[key.strip()] = parse_yaml(value)
        except yaml.YAMLError as err:
            raise ConfigError(
                f"--set {pair!r}: the value is not valid YAML ({yaml_problem(err)})"
            ) from None
    return overrides


def say_builtin() -> None:
    """Tell the user that the builtin model segments and how to fine-tune it."""
    print(
        "segmenting with the builtin generalist model (trained on EMPS and simulated images; "
        "fine-tune it on a few of your images with `sagegan train DATA --init builtin`)"
    )


def write_report(inputs: list[Path], out: Path, title: str) -> None:
    """Write the HTML report of ``inputs`` to ``out`` and say where."""
    from sagegan.report import write_report as write_html

    print(f"wrote report {write_html(inputs, out, title=title)}")
