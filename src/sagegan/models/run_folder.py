"""The layout of a training run folder: the one module that names a run's files and folders.

    RUN/config.yaml        resolved training config (written and parsed by ``sagegan.train``)
    RUN/split.json         train/val/test split (unless the run was given a split file)
    RUN/data.json          the data the run trains on (folder, pair count, fingerprint)
    RUN/plan.json          a planned run's plan and the config overrides that carry it out
    RUN/log.jsonl          one JSON record per epoch (TensorBoard scalars in RUN/tensorboard/)
    RUN/grids/<stage>_epoch_XXXX.png       image grids
    RUN/attention/<stage>_epoch_XXXX.npz   attention snapshots of validation images (+ .png)
    RUN/checkpoints/<stage>-eXXXX/         a checkpoint: <net>.safetensors, state.pt, info.json,
                                          domain.safetensors (best checkpoints)
    RUN/last.json, RUN/best.json, RUN/best-pretrain.json, RUN/best-gan.json   pointers

Epochs in names are 0-based. Each ``<which>.json`` pointer names one checkpoint folder of its run
(relative path). A checkpoint folder is complete before its pointer is replaced (``os.replace``),
so a run killed at any moment leaves every pointer naming a whole checkpoint. The builtin model
(`sagegan.models.builtin`) is a checkpoint folder of the same layout (`CheckpointFolder`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagegan.errors import ConfigError, DataError

CONFIG_FILE = "config.yaml"
SPLIT_FILE = "split.json"
DATA_RECORD_FILE = "data.json"
PLAN_FILE = "plan.json"
LOG_FILE = "log.jsonl"
TENSORBOARD_DIR = "tensorboard"
GRIDS_DIR = "grids"
ATTENTION_DIR = "attention"
CHECKPOINTS_DIR = "checkpoints"
POINTER_SUFFIX = ".json"
STAGES = ("pretrain", "gan")
BEFORE_TRAINING = -1  # the epoch of a stage's first validation, before its first step
TRAINING_INFO_FILE = "info.json"
STATE_FILE = "state.pt"
DOMAIN_FILE = "domain.safetensors"
WEIGHTS_SUFFIX = ".safetensors"
SEGMENTER_NET = "segmenter"
SEGMENTER_FILE = f"{SEGMENTER_NET}{WEIGHTS_SUFFIX}"
GRID_SUFFIX = ".png"
SNAPSHOT_SUFFIX = ".npz"
EPOCH_FILE_HINT = "<stage>_epoch_XXXX"
SNAPSHOT_HINT = f"{ATTENTION_DIR}/{EPOCH_FILE_HINT}{SNAPSHOT_SUFFIX}"


def epoch_label(stage: str, epoch: int, first: int = 0) -> str:
    """'gan epoch 3' for ``epoch`` (0-based, as the file names count) shown counted from
    ``first`` (1 where training's progress counts from 1); 'gan, before training' for
    ``BEFORE_TRAINING``."""
    if epoch == BEFORE_TRAINING:
        return f"{stage}, before training"
    return f"{stage} epoch {epoch + first}"


def best_pointer(stage: str) -> str:
    """The pointer to the best checkpoint of one stage: ``best-<stage>``."""
    return f"best-{stage}"


POINTERS = ("best", "last", *map(best_pointer, STAGES))
BEST_POINTERS = ("best", *map(best_pointer, STAGES))
# in ``best.json`` when the final choice moved it (`sagegan.train.final_choice`): the kept
# checkpoint's and the replaced one's validation score at their tuned splits
FINAL_CHOICE_KEY = "chosen_on_tuned_split"
FINAL_CHOICE_METRIC = "f1@0.5"


def epoch_file_name(stage: str, epoch: int, suffix: str = "") -> str:
    """``<stage>_epoch_XXXX<suffix>``: the name of a file training writes at the end of an epoch."""
    return f"{stage}_epoch_{epoch:04d}{suffix}"


def parse_epoch_file_name(name: str, suffix: str) -> tuple[str, int] | None:
    """(stage, 0-based epoch) of a name `epoch_file_name` made with ``suffix``; None otherwise."""
    stages = "|".join(map(re.escape, STAGES))
    match = re.fullmatch(rf"({stages})_epoch_(\d+){re.escape(suffix)}", name)
    return None if match is None else (match[1], int(match[2]))


@dataclass(frozen=True)
class AttentionSnapshot:
    """One saved attention file: its stage, 0-based epoch (as in the file name) and path."""

    stage: str
    epoch: int
    path: Path

    @property
    def label(self) -> str:
        """Column title, with the epoch counted from 1 as the training log prints it."""
        return f"{self.stage} ep {self.epoch + 1}"


@dataclass(frozen=True)
class CheckpointFolder:
    """The files of one checkpoint folder: each network's weights, the training state and the
    training info (config, epoch, metrics, split file, instance-split choice) and the domain
    fingerprint."""

    path: Path

    def weights(self, net: str = SEGMENTER_NET) -> Path:
        """The weights file of the network ``net`` (segmenter, generator, d_image, ...)."""
        return self.path / f"{net}{WEIGHTS_SUFFIX}"

    def info_path(self) -> Path:
        return self.path / TRAINING_INFO_FILE

    def state_path(self) -> Path:
        """Optimisers, schedulers, RNG states, epoch and tracker of a run's checkpoint."""
        return self.path / STATE_FILE

    def domain_path(self) -> Path:
        """What the training images look like to this network (`sagegan.infer.domain`)."""
        return self.path / DOMAIN_FILE


def read_pointer(pointer: str | Path) -> dict[str, Any]:
    """The JSON object of a ``RUN/<which>.json`` pointer file.

    DataError naming the file unless it is a JSON object whose "checkpoint" is a relative path to a
    folder inside the run folder (a pointer never names anything outside its run).
    """
    pointer = Path(pointer)
    try:
        values = json.loads(pointer.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(pointer, f"unreadable checkpoint pointer ({err})") from None
    if not isinstance(values, dict) or not isinstance(values.get("checkpoint"), str):
        raise DataError(
            pointer, 'not a checkpoint pointer (expected a JSON object with a "checkpoint" path)'
        )
    run_dir = os.path.abspath(pointer.parent)
    target = os.path.abspath(os.path.join(run_dir, values["checkpoint"]))
    if os.path.commonpath([run_dir, target]) != run_dir or target == run_dir:
        raise DataError(
            pointer, f"names a checkpoint outside the run folder ({values['checkpoint']!r})"
        )
    return values


class RunFolder:
    """The files of one training run folder ``root`` (layout above); nothing is read or made
    until a method reads a file."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.root)!r})"

    @classmethod
    def holding(cls, checkpoint: str | Path) -> RunFolder | None:
        """The run whose ``checkpoints/`` folder holds ``checkpoint`` (a checkpoint folder or a
        weights file in one); None for a checkpoint outside a run (e.g. the builtin model)."""
        path = Path(checkpoint)
        folder = path if path.is_dir() else path.parent
        if folder.parent.name != CHECKPOINTS_DIR:
            return None
        return cls(folder.parent.parent)

    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    def split_path(self) -> Path:
        return self.root / SPLIT_FILE

    def data_record_path(self) -> Path:
        return self.root / DATA_RECORD_FILE

    def plan_path(self) -> Path:
        return self.root / PLAN_FILE

    def log_path(self) -> Path:
        return self.root / LOG_FILE

    def tensorboard_dir(self) -> Path:
        return self.root / TENSORBOARD_DIR

    def looks_like_run(self) -> bool:
        """Whether the folder holds a training run's log or config."""
        return self.log_path().is_file() or self.config_path().is_file()

    def training_split(self, info: dict[str, Any]) -> Path | None:
        """The split file the run was trained with: the one its checkpoint ``info`` records when
        that file still exists, else the run's own split file (e.g. after the run folder was
        moved), else None."""
        recorded = info.get("split")
        if recorded and Path(recorded).is_file():
            return Path(recorded)
        own = self.split_path()
        return own if own.is_file() else None

    def grid_path(self, stage: str, epoch: int) -> Path:
        return self.root / GRIDS_DIR / epoch_file_name(stage, epoch, GRID_SUFFIX)

    def latest_grid(self) -> Path | None:
        """The image grid of the latest epoch (GAN stage after pretraining), if any was saved."""
        grids = _epoch_files(self.root / GRIDS_DIR, GRID_SUFFIX)
        return grids[-1][2] if grids else None

    def attention_stem(self, stage: str, epoch: int) -> Path:
        """The attention snapshot of an epoch without its suffix (``.npz`` maps, ``.png`` view)."""
        return self.root / ATTENTION_DIR / epoch_file_name(stage, epoch)

    def attention_snapshots(self) -> list[AttentionSnapshot]:
        """Every saved attention snapshot, pretraining first, by epoch (empty when none)."""
        found = _epoch_files(self.root / ATTENTION_DIR, SNAPSHOT_SUFFIX)
        return [AttentionSnapshot(stage, epoch, path) for stage, epoch, path in found]

    def figure_dirs(self) -> tuple[Path, Path]:
        """The folders of the figures training draws: attention snapshots and image grids."""
        return self.root / ATTENTION_DIR, self.root / GRIDS_DIR

    def checkpoints_dir(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    def checkpoint_folder(self, stage: str, epoch: int) -> Path:
        """Where the checkpoint of ``stage``'s 0-based ``epoch`` is written
        (``BEFORE_TRAINING``: the weights a fine-tuning stage starts from)."""
        return self.checkpoints_dir() / (
            f"{stage}-start" if epoch == BEFORE_TRAINING else f"{stage}-e{epoch:04d}"
        )

    def pointer_entry(self, folder: Path) -> str:
        """How a pointer names a checkpoint ``folder`` of this run: its relative path."""
        return folder.relative_to(self.root).as_posix()

    def pointer_path(self, which: str) -> Path:
        """The pointer file ``which`` (best, last, best-pretrain, best-gan)."""
        return self.root / f"{which}{POINTER_SUFFIX}"

    def has_pointer(self, which: str) -> bool:
        return self.pointer_path(which).is_file()

    def read_pointer(self, which: str) -> dict[str, Any] | None:
        """The contents of the pointer ``which`` (`read_pointer`), or None when it is absent."""
        path = self.pointer_path(which)
        return read_pointer(path) if path.is_file() else None

    def checkpoint(self, which: str) -> Path:
        """The checkpoint folder the pointer ``which`` names; ConfigError for an unknown
        pointer, DataError when it or its folder is missing."""
        if which not in POINTERS:
            raise ConfigError(f"unknown checkpoint {which!r} (choose from {', '.join(POINTERS)})")
        pointer = self.pointer_path(which)
        if not pointer.is_file():
            raise DataError(self.root, f"no {which!r} checkpoint here (missing {pointer.name})")
        target = self.root / read_pointer(pointer)["checkpoint"]
        if not target.is_dir():
            raise DataError(pointer, f"names a missing checkpoint folder {target}")
        return target

    def best_checkpoints(self) -> list[tuple[str, Path]]:
        """(pointer, folder) of each best checkpoint the run has: best, best-pretrain, best-gan
        (a missing pointer or folder is left out)."""
        found = []
        for which in BEST_POINTERS:
            try:
                found.append((which, self.checkpoint(which)))
            except DataError:
                continue
        return found


def _epoch_files(folder: Path, suffix: str) -> list[tuple[str, int, Path]]:
    """(stage, epoch, path) of the files of ``folder`` named by `epoch_file_name` with
    ``suffix``, in training order (pretraining first, by epoch)."""
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            parsed = parse_epoch_file_name(path.name, suffix)
            if parsed is not None and path.is_file():
                found.append((*parsed, path))
    return sorted(found, key=lambda item: (STAGES.index(item[0]), item[1], item[2].name))
