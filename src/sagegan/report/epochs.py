"""Epoch numbering of the report: the run's file convention, 0-based, so that "gan epoch 3" is the
checkpoint folder ``checkpoints/gan-e0003`` and the snapshot ``attention/gan_epoch_0003.npz``
(the training console counts from 1; the report follows the files a user opens)."""

from __future__ import annotations

from pathlib import Path

from sagegan.models.ensemble_record import ENSEMBLE_KEY
from sagegan.models.run_folder import RunFolder, epoch_label
from sagegan.report.html import MISSING


def checkpoint_name(stage: str, epoch: int) -> str:
    """The name of the checkpoint folder of ``stage``'s 0-based ``epoch``, e.g. 'gan-e0003'."""
    return RunFolder(Path()).checkpoint_folder(stage, epoch).name


def checkpoint_label(checkpoint: object) -> str:
    """'gan epoch 3 (gan-e0003)' of a recorded {"stage", "epoch"} (a pointer, or the checkpoint
    entry of an evaluation or segmentation record), 'ensemble of 3 (best checkpoints)' of an
    ensemble's; "–" when it records none."""
    if not isinstance(checkpoint, dict):
        return MISSING
    ensemble = checkpoint.get(ENSEMBLE_KEY)
    if isinstance(ensemble, dict) and isinstance(ensemble.get("members"), list):
        return f"ensemble of {len(ensemble['members'])} ({ensemble.get('which')} checkpoints)"
    stage, epoch = checkpoint.get("stage"), checkpoint.get("epoch")
    if not isinstance(stage, str) or isinstance(epoch, bool) or not isinstance(epoch, int):
        return MISSING
    return f"{epoch_label(stage, epoch)} ({checkpoint_name(stage, epoch)})"
