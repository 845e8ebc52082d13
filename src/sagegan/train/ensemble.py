"""Ensembles of trained segmenters: composing runs that share a split, and training one.

`compose_ensemble` checks that the member runs were trained on the same split, loads them as one
`EnsembleBackend` (their maps averaged), chooses the ensemble's instance split on the shared
validation images (`tune_split_of`; the test part is never read) and writes the ensemble folder
(`sagegan.models.ensemble_record`), which ``segment``, ``evaluate`` and ``analyze`` take as a
model. `train_ensemble` trains the members (seeds ``seed``, ``seed + 1``, ...; the first makes
the split, the others reuse it; a time budget is shared between them) and composes them.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sagegan.data.dataset import Sample, load_sample
from sagegan.data.pairing import Pair, find_pairs
from sagegan.data.splits import Split, SplitWarning, load_split
from sagegan.errors import ConfigError, DataError
from sagegan.infer.instances import TUNED_SPLIT_KEY, run_split_options
from sagegan.infer.loading import load_members
from sagegan.infer.options import PredictionOptions
from sagegan.models.checkpoint import (
    member_weights,
    read_training_info,
    training_databar,
    training_scale,
)
from sagegan.models.ensemble_record import ENSEMBLE_FILE, write_ensemble
from sagegan.models.run_folder import RunFolder
from sagegan.train.api import train
from sagegan.train.config import TrainConfig, load_yaml
from sagegan.train.data_record import check_recorded_data
from sagegan.train.split_tuning import SplitTuning, tune_split_of

LOGGER = logging.getLogger("sagegan")
MEMBER_PREFIX = "member-"


def _member_split(member: Path, which: str) -> tuple[dict[str, Any], Path]:
    """A member run's training info and split file; DataError when it records none."""
    info = read_training_info(member_weights(member, which))
    if "config" not in info:
        raise DataError(member, "holds no training config: an ensemble member must be a run")
    split = RunFolder(member).training_split(info)
    if split is None:
        raise DataError(member, "has no split file: cannot tell its validation images")
    return info, split


def _shared_split(members: list[Path], which: str) -> tuple[dict[str, Any], Split]:
    """The first member's info and the split every member was trained on; ConfigError naming
    the first member whose split differs."""
    first_info, first_file = _member_split(members[0], which)
    split = load_split(first_file)
    for member in members[1:]:
        info, split_file = _member_split(member, which)
        other = load_split(split_file)
        if (other.train, other.val, other.test) != (split.train, split.val, split.test):
            raise ConfigError(
                f"{member} was trained on another split than {members[0]}: ensemble members "
                "must share one (train them with --split)"
            )
        if training_scale(info) != training_scale(first_info):
            raise ConfigError(
                f"{member} was trained at data.scale {training_scale(info)} and {members[0]} at "
                f"{training_scale(first_info)}: ensemble members must share one (their maps are "
                "averaged window by window)"
            )
    return first_info, split


def _validation_samples(
    data_dir: Path, found: list[Pair], split: Split, info: dict[str, Any]
) -> list[Sample]:
    """The split's validation pairs among the pairs ``found`` in ``data_dir``, loaded as the
    member of training ``info`` loaded them (databar, pixel size); DataError naming a validation
    image the folder lacks."""
    pixel_size_nm = info["config"].get("data", {}).get("pixel_size_nm")
    pairs = {pair.stem: pair for pair in found}
    missing = [stem for stem in split.val if stem not in pairs]
    if missing:
        raise DataError(data_dir, f"lacks the validation image(s) {', '.join(missing[:5])}")
    return [load_sample(pairs[stem], training_databar(info), pixel_size_nm) for stem in split.val]


def _check_members(members: list[Path], out: Path) -> None:
    """ConfigError for fewer than two members, a member named twice, or an ensemble folder
    ``out`` that is one of them (its record would turn that run into an ensemble)."""
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least two members, got {len(members)}")
    resolved = [member.resolve() for member in members]
    if len(set(resolved)) < len(resolved):
        raise ConfigError("an ensemble member is named twice: give each run once")
    if out.resolve() in resolved:
        raise ConfigError(f"--out {out} is one of the members: give the ensemble its own folder")


def compose_ensemble(
    members: list[str | Path],
    data_dir: str | Path,
    out: str | Path,
    which: str = "best",
    mask_dir: str | None = None,
    options: PredictionOptions | None = None,
) -> tuple[Path, SplitTuning]:
    """Write the ensemble of the ``which`` checkpoints of ``members`` into ``out`` with its
    instance split chosen on their validation images of ``data_dir``; returns the record file
    and the split choice."""
    paths = [Path(member) for member in members]
    _check_members(paths, Path(out))
    first_info, split = _shared_split(paths, which)
    found = find_pairs(data_dir, mask_dir=mask_dir)
    for path in paths:
        check_recorded_data(path, Path(data_dir), found, "give the folder the members trained on")
    samples = _validation_samples(Path(data_dir), found, split, first_info)
    options = (options or PredictionOptions()).resolved()
    device = options.run_device()
    backend, _ = load_members(paths, which, options.backend, options.precision, device)
    planned = run_split_options({"config": first_info["config"]})
    scale = training_scale(first_info)
    tuning = tune_split_of(lambda image: options.predict(backend, image, scale), samples, planned)
    file = write_ensemble(out, paths, which, {TUNED_SPLIT_KEY: asdict(tuning)})
    LOGGER.info("%s (ensemble of %d)", tuning.summary(), len(paths))
    return file, tuning


def member_configs(config: TrainConfig, count: int) -> list[TrainConfig]:
    """The configs of ``count`` members: seeds ``config.seed`` onwards, a budget shared."""
    if count < 2:
        raise ConfigError(f"--ensemble needs at least 2 members, got {count}")
    budget = config.plan.budget_minutes
    plan = config.plan if budget is None else replace(config.plan, budget_minutes=budget / count)
    return [replace(config, seed=config.seed + index, plan=plan) for index in range(count)]


def train_ensemble(
    data_dir: str | Path,
    out: str | Path,
    config: TrainConfig,
    count: int,
    split_path: str | Path | None = None,
    mask_dir: str | None = None,
    resume: bool = False,
) -> tuple[Path, SplitTuning | None]:
    """Train ``count`` members into ``out/member-<i>`` (`member_configs`; all on the first
    member's split, or ``split_path``) and compose them into the ensemble folder ``out`` (under
    torchrun on rank 0 only: the other ranks return the record's path and no split choice)."""
    out = Path(out)
    members = []
    configs = member_configs(config, count)
    if resume:
        configs = _resumed_member_configs(out, configs)
    for index, member_config in enumerate(configs):
        member = out / f"{MEMBER_PREFIX}{index}"
        resumed = resume and RunFolder(member).looks_like_run()
        LOGGER.info("ensemble member %d of %d: %s", index + 1, count, member)
        with warnings.catch_warnings():  # members share the first's split by design
            warnings.filterwarnings("ignore", "(?s).*using the saved split", SplitWarning)
            result = train(
                data_dir,
                member,
                None if resumed else member_config,
                resume=resumed,
                split_path=split_path,
                mask_dir=mask_dir,
            )
        split_path = result.split_path
        members.append(member)
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 composes
        return out / ENSEMBLE_FILE, None
    options = PredictionOptions(device=config.runtime.device)
    return compose_ensemble(members, data_dir, out, mask_dir=mask_dir, options=options)


def _resumed_member_configs(out: Path, planned: list[TrainConfig]) -> list[TrainConfig]:
    """On resume, the configs of ``planned`` members as the first member was configured (its
    saved config, budget share included, with the next seeds), so that members not yet started
    train as the finished ones did; ``planned`` when the first member has not started."""
    saved = RunFolder(out / f"{MEMBER_PREFIX}0").config_path()
    if not saved.is_file():
        return planned
    first = TrainConfig.from_dict(load_yaml(saved))
    return [replace(first, seed=first.seed + index) for index in range(len(planned))]
