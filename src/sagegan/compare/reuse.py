"""A pretraining-only run reused as stage 1 of a method that pretrains the same way.

``sage_gan`` pretrains exactly as ``attention_unet`` trains: same segmenter, loss, data, schedule
and seed, and the GAN stage seeds itself. When the comparison has already trained that twin for
the same size and seed, its best pretrained checkpoint, pointers, log lines and figures are copied
into the fresh run folder and only the GAN stage is trained. That saves the whole stage 1 and
makes the paired comparison exact; where training is deterministic (the CPU) the run is identical
to one that pretrains again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagegan.data.atomic_files import write_json_atomic
from sagegan.models.run_folder import RunFolder
from sagegan.train import TrainConfig

REUSE_FILE = "pretraining.json"


def _without_gan(config: TrainConfig) -> dict[str, Any]:
    values = config.to_dict()
    del values["gan"]
    return values


def pretraining_twin(config: TrainConfig, candidates: Mapping[str, TrainConfig]) -> str | None:
    """The candidate (a method name) whose whole training is ``config``'s stage 1: no GAN stage
    and everything else equal. None when ``config`` lacks either stage or no candidate fits."""
    if config.pretrain.epochs == 0 or config.gan.epochs == 0:
        return None
    mine = _without_gan(config)
    for name, other in candidates.items():
        if other.gan.epochs == 0 and _without_gan(other) == mine:
            return name
    return None


def reuse_record(run_dir: Path) -> dict[str, Any] | None:
    """What ``run_dir``'s ``pretraining.json`` says: the donor run folder (relative to the
    comparison) and its pretraining outcome; None when the run pretrained itself."""
    path = run_dir / REUSE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def copy_pretraining(
    donor: Path,
    run_dir: Path,
    config: TrainConfig,
    donor_name: str,
    pretrain_outcome: dict[str, Any],
) -> dict[str, Any]:
    """Copy the finished ``donor``'s pretraining into the fresh ``run_dir``: its best pretrained
    checkpoint, the ``best-pretrain`` and ``best`` pointers (naming ``config``), the log, the
    plan and the figures; then mark the folder (``pretraining.json``): training starts at the
    GAN stage.
    Returns the mark's record (see `reuse_record`)."""
    source, target = RunFolder(donor), RunFolder(run_dir)
    pointer = json.loads(source.pointer_path("best-pretrain").read_text(encoding="utf-8"))
    pointer["config"] = config.to_dict()
    checkpoint = pointer["checkpoint"]
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(donor / checkpoint, run_dir / checkpoint, dirs_exist_ok=True)
    for copied, copy in zip(source.figure_dirs(), target.figure_dirs(), strict=True):
        if copied.is_dir():
            shutil.copytree(copied, copy, dirs_exist_ok=True)
    shutil.copyfile(source.log_path(), target.log_path())
    if source.plan_path().is_file():  # the GAN stage follows the donor's plan
        shutil.copyfile(source.plan_path(), target.plan_path())
    write_json_atomic(target.pointer_path("best-pretrain"), pointer)
    write_json_atomic(target.pointer_path("best"), pointer)
    record = {"donor": donor_name, "pretrain": pretrain_outcome}
    write_json_atomic(run_dir / REUSE_FILE, record)
    return record
