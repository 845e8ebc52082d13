"""The `sagegan` command line: one verb per job, folder in, folder out.

This module only parses arguments and calls the package's functions; no work is done here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from sagegan import __version__
from sagegan.errors import ConfigError, DataError, SageganError

BUILTIN = "builtin"  # the shipped model's name (sagegan.models.builtin.BUILTIN; torch-free here)

DEVICE_HELP = "auto (default: cuda when available, else cpu), cpu, cuda or cuda:N"
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
# a run's segmenter checkpoints (the pointers of sagegan.models.checkpoint, kept here so that
# parsing imports no torch)
SEGMENTER_CHECKPOINTS = ("best", "last", "best-pretrain", "best-gan")
CHECKPOINT_HELP = (
    "which weights: best (default: chosen on validation over both stages), last, best-pretrain "
    "(best of stage 1) or best-gan (best GAN-stage epoch)"
)


def _seed(text: str) -> int:
    """A random seed: an integer in [0, 2**32)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, 2**32), got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
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


def _add_calibration_options(parser: argparse.ArgumentParser) -> None:
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


def _add_prediction_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("prediction")
    group.add_argument(
        "--checkpoint", default="best", choices=SEGMENTER_CHECKPOINTS, help=CHECKPOINT_HELP
    )
    group.add_argument(
        "--tile", type=_size, default=(512, 512), help="sliding-window tile HxW (512x512)"
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
    group.add_argument("--device", default="auto", help=DEVICE_HELP)
    group.add_argument(
        "--backend",
        choices=["torch", "eager", "onnx"],
        default="torch",
        help="torch (default: channels_last, inference mode), eager (plain NCHW, the reference's "
        "way) or onnx (ONNX Runtime on RUN/export/segmenter.onnx, exported when missing)",
    )
    group.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="fp32 (default) or bf16 autocast with --backend torch (faster; logits change ~1e-2)",
    )
    group.add_argument(
        "--onnx", metavar="FILE", help="ONNX file for --backend onnx (default: the run's export)"
    )


def _prediction_options(args: argparse.Namespace):
    """The `PredictionOptions` of the options `_add_prediction_options` and
    `_add_calibration_options` add (ConfigError for a bad value)."""
    from sagegan.infer import PredictionOptions

    return PredictionOptions(
        which=args.checkpoint,
        tile=args.tile,
        overlap=args.overlap,
        tta="flips" if args.tta else "none",
        threshold=args.threshold,
        min_size_px=args.min_size,
        min_depth_px=args.seed_depth,
        device=args.device,
        backend=args.backend,
        precision=args.precision,
        onnx_path=args.onnx,
        databar=_databar_override(args),
        pixel_size_nm=_pixel_size_nm(args),
    )


def _databar_override(args: argparse.Namespace) -> str | int | None:
    """The databar option when given on the command line, else None (use the model's setting)."""
    explicit = args.no_databar_crop or args.crop_bottom is not None
    return _databar_mode(args) if explicit else None


def _databar_mode(args: argparse.Namespace) -> str | int:
    if args.no_databar_crop:
        return "none"
    if args.crop_bottom is not None:
        if args.crop_bottom < 0:
            raise ConfigError(f"--crop-bottom must be >= 0, got {args.crop_bottom}")
        return args.crop_bottom
    return "auto"


def _pixel_size_nm(args: argparse.Namespace) -> float | None:
    if args.pixel_size is None:
        return None
    from sagegan.data.calibration import parse_pixel_size

    return parse_pixel_size(args.pixel_size)


# --------------------------------------------------------------------------- verbs


def cmd_synth(args: argparse.Namespace) -> int:
    from sagegan.synth import SimulatorConfig, write_dataset

    overrides: dict[str, object] = {"databar_probability": args.databar}
    if args.pixel_size is not None:
        from sagegan.data.calibration import parse_pixel_size

        overrides["pixel_size_nm"] = parse_pixel_size(args.pixel_size)
    config = SimulatorConfig.preset(args.style, size=args.size, **overrides)
    out = write_dataset(args.out, n=args.n, seed=args.seed, config=config, overwrite=args.overwrite)
    print(f"wrote {args.n} simulated image/mask pairs to {out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from sagegan.data.check import check_dataset

    report = check_dataset(
        args.data,
        strict=args.strict,
        databar=_databar_mode(args),
        pixel_size_nm=_pixel_size_nm(args),
        patch_size=args.patch_size,
    )
    print(report.to_text())
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        except OSError as err:
            raise DataError(args.json, f"cannot write the JSON report ({err})") from None
    return 0 if report.ok else 1


def cmd_split(args: argparse.Namespace) -> int:
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


def cmd_models(args: argparse.Namespace) -> int:
    from sagegan.models import format_model_table

    print(format_model_table())
    return 0


def _overrides(pairs: Sequence[str]) -> dict[str, object]:
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


DURATION_UNITS = {"s": 1 / 60, "m": 1.0, "min": 1.0, "h": 60.0}


def _minutes(text: str) -> float:
    """A duration such as "45m", "1.5h", "600s" or "30" (minutes) in minutes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*", text)
    if match is None or not float(match.group(1)) > 0:
        raise ConfigError(
            f"--budget: {text!r} is not a positive duration such as 45m, 1.5h or 600s"
        )
    return float(match.group(1)) * DURATION_UNITS[match.group(2) or "m"]


def cmd_train(args: argparse.Namespace) -> int:
    from sagegan.infer.device import resolve_device
    from sagegan.train import config_from_cli, train

    if args.device is not None:
        resolve_device(args.device)  # an unusable --device is an error before any work
    overrides = _overrides(args.set)
    overrides["data.databar"] = _databar_mode(args)
    if args.pixel_size is not None:
        overrides["data.pixel_size_nm"] = _pixel_size_nm(args)
    for key, value in (
        ("seed", args.seed),
        ("runtime.device", args.device),
        ("model.init", args.init),
    ):
        if value is not None:
            overrides[key] = value
    if args.budget is not None or args.iterations is not None:
        if args.preset != "auto":
            raise ConfigError("--budget and --iterations need --preset auto (the planned recipe)")
        if args.budget is not None:
            overrides["plan.budget_minutes"] = _minutes(args.budget)
        else:
            overrides["plan.iterations"] = args.iterations
    config = None
    if not args.resume or args.config or args.set:
        config = config_from_cli(args.preset, args.config, overrides)
        config.check_trains(args.stage)
    result = train(
        args.data,
        args.out,
        config,
        stage=args.stage,
        resume=args.resume,
        split_path=args.split,
        mask_dir=args.mask_dir,
    )
    if result.best is not None and os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 only
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.best.get("metrics", {}).items())
        print(
            f"best checkpoint: {result.best.get('stage')} epoch {result.best.get('epoch', -1) + 1} "
            f"(validation {metrics}); run folder {result.run_dir}"
        )
    return 0


def _say_builtin() -> None:
    print(
        "segmenting with the builtin generalist model (trained on EMPS and simulated images; "
        "fine-tune it on a few of your images with `sagegan train DATA --init builtin`)"
    )


def cmd_segment(args: argparse.Namespace) -> int:
    from sagegan.infer import segment_images

    if args.model == BUILTIN:
        _say_builtin()
    summary = segment_images(args.inputs, args.model, Path(args.out), _prediction_options(args))
    print(f"segmented {len(summary.results)} image(s) into {summary.out}")
    for failure in summary.failures:
        print(f"failed: {failure.message}", file=sys.stderr)
    return 0 if summary.ok else 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sagegan.evaluate import evaluate_run, format_summary

    result = evaluate_run(
        args.model,
        args.data,
        out=args.out,
        split=args.split,
        split_file=args.split_file,
        protocol=args.protocol,
        mask_dir=args.mask_dir,
        options=_prediction_options(args),
    )
    print(format_summary(result.summary))
    print(f"wrote {', '.join(str(path) for path in result.files.values())}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sagegan.infer.export import export_onnx, sidecar_path

    path = export_onnx(args.onnx, out=args.out, which=args.checkpoint)
    record = json.loads(sidecar_path(path).read_text())
    diff = record["verification"]["max_abs_diff"]
    print(f"exported {record['weights']} to {path} (ONNX Runtime vs PyTorch max |diff| {diff:.2g})")
    print(f"sidecar: {sidecar_path(path)}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
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
    )
    print(f"wrote {result.count} synthetic image/mask pairs to {result.out}")
    if result.realism is not None:
        print("realism vs real images: " + json.dumps(result.realism))
    return 0


def _train_size(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise ConfigError(
            f"--train-sizes: expected numbers of images or 'all', got {text!r}"
        ) from None


def cmd_compare(args: argparse.Namespace) -> int:
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
        overrides=_overrides(args.set),
        paper_protocol=args.paper_protocol,
        group_pattern=args.group,
        workers=args.workers,
    )
    print(result.files["markdown"].read_text())
    print(f"wrote {', '.join(str(path) for path in result.files.values())}")
    _write_report([result.out], Path(result.out) / "report.html", "sagegan comparison")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from sagegan.analysis import OrderOptions, analyze_images
    from sagegan.infer import PredictionOptions

    if args.model is None and args.labels is None:
        args.model = BUILTIN
        _say_builtin()
    if args.model:
        options = _prediction_options(args)
    else:  # labels given: only the calibration and databar options apply
        options = PredictionOptions(
            pixel_size_nm=_pixel_size_nm(args), databar=_databar_override(args)
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
    )
    print(result.files["markdown"].read_text())
    print(f"wrote {', '.join(str(path) for path in result.files.values())}")
    if not args.no_report:
        _write_report([result.out], result.out / "report.html", "sagegan particle analysis")
    for _, message in result.failures:
        print(f"failed: {message}", file=sys.stderr)
    return 1 if result.failures else 0


def _write_report(inputs: list[Path], out: Path, title: str) -> None:
    from sagegan.report import write_report

    print(f"wrote report {write_report(inputs, out, title=title)}")


def cmd_attention(args: argparse.Namespace) -> int:
    from sagegan.report import attention_evolution, attention_overlays

    out = Path(args.out)
    figure = attention_evolution(args.model, out / "attention_evolution.png")
    print(f"attention evolution ({', '.join(s.label for s in figure.snapshots)}): {figure.path}")
    if args.data:
        paths = attention_overlays(args.model, args.data, out, max_images=args.max_images)
        print(f"attention overlays on {len(paths) - 1} validation image(s): {paths[-1]}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from sagegan.report import write_report

    path = write_report(args.inputs, args.out, title=args.title, max_images=args.max_images)
    print(f"wrote report {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sagegan.demo import run_demo

    run_demo(out=args.out, n_images=args.n, seed=args.seed, preset=args.preset)
    return 0


# --------------------------------------------------------------------------- parser


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2), naming where
    the full usage is, instead of the usage text followed by the error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="sagegan",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sagegan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="print debug messages")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, func: Callable[[argparse.Namespace], int], help_text: str):
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(func=func, verb_parser=sub)
        return sub

    demo = verb("demo", cmd_demo, "run the whole pipeline on simulated SEM images")
    demo.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    demo.add_argument("--n", type=int, default=40, help="number of simulated images (default 40)")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--preset",
        choices=["cpu-small", "tiny"],
        default="cpu-small",
        help="training size: cpu-small (about 10 min on 2 CPU cores, default) "
        "or tiny (a smoke test)",
    )

    train = verb(
        "train",
        cmd_train,
        "train a segmenter: Attention U-Net pretraining, then the SAGE-GAN stage",
    )
    train.add_argument("data", help="dataset folder (images/ + masks/)")
    train.add_argument("--out", required=True, help="run folder for checkpoints, logs and figures")
    train.add_argument(
        "--preset",
        choices=["auto", "cpu-small", "paper", "tiny"],
        default="auto",
        help="auto (default: depth, patch size, augmentation and iterations planned from your "
        "training set, written to RUN/plan.json), cpu-small (the fixed ~10 min CPU recipe), "
        "paper (the paper's sizes, for a GPU), tiny (smoke tests)",
    )
    length = train.add_mutually_exclusive_group()
    length.add_argument(
        "--budget",
        metavar="TIME",
        help="train for this wall time, e.g. 45m, 1.5h or 600s: the step time is measured, the "
        "iterations are set to fit and stage 1 stops at the budget (with --preset auto)",
    )
    length.add_argument(
        "--iterations",
        type=int,
        metavar="N",
        help="exactly N stage-1 iterations (with --preset auto; default 1500)",
    )
    train.add_argument("--config", metavar="YAML", help="config file merged over the preset")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set gan.epochs=20 (repeatable)",
    )
    train.add_argument(
        "--stage",
        choices=["all", "pretrain", "gan"],
        default="all",
        help="pretrain only, GAN stage only (after pretrain), or both (default)",
    )
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument(
        "--split",
        metavar="JSON",
        help="split file from `sagegan split` (default: made once in the run folder)",
    )
    train.add_argument(
        "--mask-dir", metavar="NAME", help="mask folder name (default masks; e.g. labels)"
    )
    train.add_argument("--seed", type=_seed, help="random seed (default from the preset: 0)")
    train.add_argument(
        "--init",
        metavar="MODEL",
        help="start from this model's weights and architecture: builtin (the shipped generalist) "
        "or a run folder, checkpoint folder or weights file; fine-tuning from a few images",
    )
    train.add_argument("--device", help=DEVICE_HELP)
    _add_calibration_options(train)

    segment = verb(
        "segment",
        cmd_segment,
        "segment images with a trained run or the builtin model: masks, probabilities, "
        "instances, attention",
    )
    segment.add_argument("inputs", nargs="+", help="image files, folders or globs")
    segment.add_argument(
        "--model",
        default=BUILTIN,
        help="training run folder, weights file or builtin (default: the builtin generalist model)",
    )
    segment.add_argument("--out", required=True, help="output folder")
    _add_prediction_options(segment)
    _add_calibration_options(segment)

    export = verb(
        "export",
        cmd_export,
        "export a trained segmenter for fast CPU inference (ONNX Runtime: segment --backend onnx)",
    )
    export.add_argument(
        "--onnx", required=True, metavar="RUN", help="training run folder (or weights file)"
    )
    export.add_argument(
        "--out",
        metavar="FILE",
        help="ONNX file to write (default: RUN/export/segmenter.onnx; segmenter-<checkpoint>.onnx "
        "for another --checkpoint)",
    )
    export.add_argument(
        "--checkpoint", default="best", choices=SEGMENTER_CHECKPOINTS, help=CHECKPOINT_HELP
    )

    evaluate = verb(
        "evaluate",
        cmd_evaluate,
        "score a trained run on a split at native resolution (pixel and object metrics)",
    )
    evaluate.add_argument("data", help="dataset folder (images/ + masks/)")
    evaluate.add_argument("--model", required=True, help="training run folder")
    evaluate.add_argument("--out", required=True, help="folder for metrics.json, CSV, summary.md")
    evaluate.add_argument(
        "--split",
        choices=["test", "val", "train", "all"],
        default="test",
        help="which part of the run's split to score (default: the held-out test part)",
    )
    evaluate.add_argument("--split-file", metavar="JSON", help="another split file")
    evaluate.add_argument(
        "--protocol",
        choices=["native", "paper"],
        default="native",
        help="native (default) or the SAGE-GAN code's way: 512x768, eroded masks, F1@0.5",
    )
    evaluate.add_argument("--mask-dir", metavar="NAME", help="mask folder name (e.g. labels)")
    _add_prediction_options(evaluate)
    _add_calibration_options(evaluate)

    compare = verb(
        "compare",
        cmd_compare,
        "the paper's comparison: baselines, SAGE-GAN and the loss ablation over seeds and sizes",
    )
    compare.add_argument("data", help="dataset folder (images/ + masks/)")
    compare.add_argument("--out", required=True, help="output folder (runs, tables, plot)")
    compare.add_argument(
        "--methods",
        nargs="+",
        metavar="METHOD",
        help="methods to run (default: all but classical): unet, unet_plus_plus, half_unet, "
        "dc_unet, attention_unet, cgan_seg, sage_gan, attention_unet_dice, sage_gan_dice, "
        "classical (blur + Otsu + watershed, no training)",
    )
    compare.add_argument("--seeds", type=int, default=3, help="seeds per method (default 3)")
    compare.add_argument(
        "--train-sizes",
        default="all",
        help="comma-separated training-set sizes, e.g. 10,20,all (default all)",
    )
    compare.add_argument(
        "--preset",
        choices=["auto", "cpu-small", "paper", "tiny"],
        default="cpu-small",
        help="size preset (default cpu-small; auto plans each run from its training subset)",
    )
    compare.add_argument("--split", metavar="JSON", help="split file (default: made once)")
    compare.add_argument(
        "--group",
        metavar="REGEX",
        help="stratify the training subsets by sample: a pattern whose first group is a file "
        "stem's sample, e.g. '^([a-z]+)_' (the subsets take the samples in turn)",
    )
    compare.add_argument(
        "--paper-protocol",
        action="store_true",
        help="also score every run the SAGE-GAN code's way (512x768, eroded masks, F1@0.5)",
    )
    compare.add_argument("--mask-dir", metavar="NAME", help="mask folder name for evaluation")
    compare.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes running (size, seed) groups side by side, sharing the torch threads "
        "(default 1; e.g. 2 on a 2-core CPU: small networks use one thread best)",
    )
    compare.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run"
    )

    attention = verb(
        "attention",
        cmd_attention,
        "attention-map figures of a run: evolution over epochs and overlays on validation images",
    )
    attention.add_argument("--model", required=True, help="training run folder")
    attention.add_argument("--out", required=True, help="output folder for the figures")
    attention.add_argument("--data", help="dataset folder, for overlays on validation images")
    attention.add_argument("--max-images", type=int, default=8, help="overlay images (8)")

    analyze = verb(
        "analyze",
        cmd_analyze,
        "particle sizes in nm and spatial order (g(r), psi6, rings) of labelled images",
    )
    analyze.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    analyze.add_argument("--out", required=True, help="output folder (CSV, JSON, figures, report)")
    source = analyze.add_mutually_exclusive_group()
    source.add_argument(
        "--model",
        help="segment the images first with this run folder or builtin (the default when no "
        "--labels are given)",
    )
    source.add_argument("--labels", metavar="DIR", help="folder of label/mask files, by stem")
    analyze.add_argument(
        "--include-edges",
        action="store_true",
        help="use particles touching the border in size statistics (default: excluded)",
    )
    analyze.add_argument(
        "--min-area", type=int, default=0, metavar="PX", help="drop objects under PX pixels (0)"
    )
    analyze.add_argument(
        "--references", type=int, default=50, help="random (CSR) patterns per image (50)"
    )
    analyze.add_argument("--seed", type=_seed, default=0, help="seed of the random patterns (0)")
    analyze.add_argument(
        "--max-figures", type=int, default=12, help="images with overlay and g(r) figures (12)"
    )
    analyze.add_argument("--no-report", action="store_true", help="skip the HTML report")
    _add_prediction_options(analyze)
    _add_calibration_options(analyze)

    report = verb(
        "report",
        cmd_report,
        "one self-contained HTML report (works offline) of runs, evaluations, segmentations, "
        "comparisons and analyses",
    )
    report.add_argument(
        "inputs", nargs="+", help="result folders, or folders holding them (e.g. demo_out)"
    )
    report.add_argument("--out", required=True, help="HTML file to write, e.g. report.html")
    report.add_argument("--title", help="page title (default: sagegan report)")
    report.add_argument(
        "--max-images", type=int, default=6, help="segmented images shown with overlays (6)"
    )

    generate = verb(
        "generate",
        cmd_generate,
        "make synthetic image/mask pairs with a trained SAGE-GAN generator",
    )
    generate.add_argument("--model", required=True, help="training run folder (GAN stage done)")
    generate.add_argument("--out", required=True, help="output folder (images/, masks/, labels/)")
    generate.add_argument("--masks", metavar="DIR", help="render these mask files")
    generate.add_argument("--synth", type=int, default=0, metavar="N", help="N simulator layouts")
    generate.add_argument(
        "--rearranged",
        type=int,
        default=0,
        metavar="N",
        help="N masks of re-arranged particles cut from --masks",
    )
    generate.add_argument("--styles", type=int, default=3, help="styles per mask (default 3)")
    generate.add_argument("--size", type=_size, help="HxW of new masks (default: training patch)")
    generate.add_argument("--real", metavar="DIR", help="real images for realism statistics")
    generate.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    generate.add_argument(
        "--checkpoint", default="best", choices=["best", "last"], help="which weights (best)"
    )
    generate.add_argument("--device", default="auto", help=DEVICE_HELP)

    synth = verb("synth", cmd_synth, "simulate SEM images of nanoparticles with exact masks")
    synth.add_argument("--out", required=True, help="output folder (images/, masks/, labels/)")
    synth.add_argument("--n", type=int, default=40, help="number of images (default 40)")
    synth.add_argument("--size", type=_size, default=(512, 768), help="HxW (default 512x768)")
    synth.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    synth.add_argument(
        "--style",
        choices=["pdc", "tio2", "mixed"],
        default="mixed",
        help="look of the images: Pd/C-like, TiO2-like or a mix (default)",
    )
    synth.add_argument(
        "--databar",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of drawing an instrument databar at the bottom (default 0)",
    )
    synth.add_argument("--pixel-size", metavar="SIZE", help='pixel size, e.g. "2nm"')
    synth.add_argument(
        "--overwrite", action="store_true", help="replace an earlier simulation in --out"
    )

    check = verb("check", cmd_check, "verify a dataset: pairs, sizes, masks, calibration, databar")
    check.add_argument("data", help="dataset folder (images/ + masks/, or X + X_mask files)")
    check.add_argument(
        "--strict",
        action="store_true",
        help="unpaired files and data warnings (e.g. inverted masks, tiny images) are an error",
    )
    check.add_argument(
        "--patch-size",
        type=_size,
        metavar="HxW",
        help="training patch (e.g. 256 or 512x768): images smaller than it are reported",
    )
    check.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    _add_calibration_options(check)

    split = verb("split", cmd_split, "make a deterministic train/val/test split and save it")
    split.add_argument("data", help="dataset folder")
    split.add_argument("--out", required=True, help="split JSON file to write")
    split.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    split.add_argument("--val", type=float, default=0.15, help="validation fraction (0.15)")
    split.add_argument("--test", type=float, default=0.15, help="test fraction (0.15)")
    split.add_argument("--kfold", type=int, metavar="K", help="write K cross-validation folds")
    split.add_argument(
        "--group",
        metavar="REGEX",
        help="stratify by sample: REGEX's first group in the file name, e.g. '^([a-z]+)_'",
    )
    split.add_argument("--strict", action="store_true", help="unpaired files are an error")

    verb("models", cmd_models, "list the available networks with sizes and citations")
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


if __name__ == "__main__":
    sys.exit(main())
