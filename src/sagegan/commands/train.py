"""``sagegan train``: Attention U-Net pretraining, then the SAGE-GAN stage."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from sagegan.commands.common import (
    add_calibration_options,
    add_data_argument,
    add_device_option,
    add_mask_dir_option,
    add_preset_option,
    add_seed_option,
    add_set_option,
    add_split_file_option,
    databar_mode,
    parse_overrides,
    pixel_size_nm,
)
from sagegan.errors import ConfigError

NAME = "train"
HELP = "train a segmenter: Attention U-Net pretraining, then the SAGE-GAN stage"
DURATION_UNITS = {"s": 1 / 60, "m": 1.0, "min": 1.0, "h": 60.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_argument(parser)
    parser.add_argument("--out", required=True, help="run folder for checkpoints, logs and figures")
    add_preset_option(
        parser,
        help="auto (default: resolution, depth, patch size, augmentation and iterations planned "
        "from your training set, written to RUN/plan.json), cpu-small (the fixed CPU recipe: "
        "~8 min for the demo's 40 images), paper (the paper's sizes, for a GPU), tiny (smoke "
        "tests); with --resume the run's own settings are kept",
    )
    length = parser.add_mutually_exclusive_group()
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
    parser.add_argument("--config", metavar="YAML", help="config file merged over the preset")
    add_set_option(parser, help="override one setting, e.g. --set gan.epochs=20 (repeatable)")
    parser.add_argument(
        "--stage",
        choices=["all", "pretrain", "gan"],
        default="all",
        help="pretrain only, GAN stage only (after pretrain), or both (default)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in --out"
    )
    add_split_file_option(
        parser, help="split file from `sagegan split` (default: made once in the run folder)"
    )
    add_mask_dir_option(parser, help="mask folder name (default masks; e.g. labels)")
    add_seed_option(parser, default=None, help="random seed (default from the preset: 0)")
    parser.add_argument(
        "--init",
        metavar="MODEL",
        help="start from this model's weights and architecture: builtin (the shipped generalist) "
        "or a run folder, checkpoint folder or weights file; fine-tuning from a few images",
    )
    parser.add_argument(
        "--ensemble",
        type=int,
        metavar="K",
        help="train K members (seeds SEED..SEED+K-1, one split, a --budget shared) into "
        "OUT/member-<i> and combine them into the ensemble OUT, whose averaged maps segment",
    )
    add_device_option(parser, default=None)
    add_calibration_options(parser)


def minutes(text: str) -> float:
    """A duration such as "45m", "1.5h", "600s" or "30" (minutes) in minutes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*", text)
    if match is None or not float(match.group(1)) > 0:
        raise ConfigError(
            f"--budget: {text!r} is not a positive duration such as 45m, 1.5h or 600s"
        )
    return float(match.group(1)) * DURATION_UNITS[match.group(2) or "m"]


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """The config overrides the options give (--set, calibration, seed, device, init, length)."""
    overrides = parse_overrides(args.set)
    overrides["data.databar"] = databar_mode(args)
    if args.pixel_size is not None:
        overrides["data.pixel_size_nm"] = pixel_size_nm(args)
    for key, value in (
        ("seed", args.seed),
        ("runtime.device", args.device),
        ("model.init", args.init),
    ):
        if value is not None:
            overrides[key] = value
    if args.budget is not None or args.iterations is not None:
        if (args.preset or "auto") != "auto":
            raise ConfigError("--budget and --iterations need --preset auto (the planned recipe)")
        if args.budget is not None:
            overrides["plan.budget_minutes"] = minutes(args.budget)
        else:
            overrides["plan.iterations"] = args.iterations
    return overrides


def _resumed_config(args: argparse.Namespace, overrides: dict[str, object]):
    """For --resume: the run's own saved config with --config and the options applied (training
    then refuses any of them that changes it, naming the setting), or None without a saved
    config (training says there is nothing to resume)."""
    from sagegan.models.run_folder import RunFolder
    from sagegan.train.config import TrainConfig, deep_merge, load_yaml, nest_dotted

    saved = RunFolder(args.out).config_path()
    if not saved.is_file():
        return None
    values = load_yaml(saved)
    if args.config:
        values = deep_merge(values, load_yaml(args.config))
    return TrainConfig.from_dict(deep_merge(values, nest_dotted(overrides)))


def run(args: argparse.Namespace) -> int:
    from sagegan.infer.device import resolve_device
    from sagegan.train import config_from_cli, train

    if args.device is not None:
        resolve_device(args.device)  # an unusable --device is an error before any work
    overrides = _overrides(args)
    config = None
    if args.resume and args.preset is None:
        config = _resumed_config(args, overrides)
    elif not args.resume or args.config or args.set:
        config = config_from_cli(args.preset or "auto", args.config, overrides)
    if args.ensemble is not None:
        config = config or config_from_cli(args.preset or "auto", args.config, overrides)
        return _run_ensemble(args, config)
    if config is not None:
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
        _print_best(result.best, result.run_dir)
    return 0


def _print_best(best: dict, run_dir: Path) -> None:
    """Which checkpoint the run keeps, with its validation scores and why."""
    from sagegan.models.run_folder import BEFORE_TRAINING, FINAL_CHOICE_KEY, FINAL_CHOICE_METRIC
    from sagegan.train.final_choice import pointer_label

    metrics = ", ".join(f"{k} {v:.4f}" for k, v in best.get("metrics", {}).items())
    name = Path(str(best.get("checkpoint", ""))).name
    print(f"best checkpoint: {name} (validation {metrics}); run folder {run_dir}")
    if best.get("epoch") == BEFORE_TRAINING:
        print(
            "no epoch validated better than the --init weights: the run keeps them, "
            "with the instance split tuned on its validation images"
        )
    choice = best.get(FINAL_CHOICE_KEY)
    if choice is not None:
        over = choice["over"]
        print(
            f"kept over {pointer_label(over)}: validation F1@0.5 at each one's tuned instance "
            f"split {choice[FINAL_CHOICE_METRIC]:.4f} against {over[FINAL_CHOICE_METRIC]:.4f}"
        )


def _run_ensemble(args: argparse.Namespace, config) -> int:
    """``--ensemble K``: train the members and combine them (`train_ensemble`)."""
    from sagegan.train.ensemble import train_ensemble

    if args.stage != "all":
        raise ConfigError("--ensemble trains whole runs: leave out --stage")
    config.check_trains("all")
    file, _ = train_ensemble(
        args.data, args.out, config, args.ensemble, args.split, args.mask_dir, args.resume
    )
    if os.environ.get("RANK", "0") == "0":
        print(f"ensemble of {args.ensemble} runs -> {file}")
    return 0
