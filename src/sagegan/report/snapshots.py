"""The attention snapshots a run saved during training (`sagegan.train.run_log.save_attention`):
finding them in the run folder (`RunFolder.attention_snapshots`), choosing the epochs a figure
shows, and reading one file."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sagegan.errors import ConfigError, DataError
from sagegan.models.run_folder import SNAPSHOT_HINT, STAGES, AttentionSnapshot, RunFolder


def find_snapshots(run_dir: str | Path) -> list[AttentionSnapshot]:
    """Every attention file of a run, pretraining first, by epoch; ConfigError if there is none."""
    found = RunFolder(run_dir).attention_snapshots()
    if not found:
        raise ConfigError(
            f"{run_dir}: no attention maps saved (no {SNAPSHOT_HINT}); "
            "train with an attention segmenter and runtime.attention_every > 0"
        )
    return found


def choose_snapshots(
    snapshots: Sequence[AttentionSnapshot],
    epochs: str | Sequence[int | str] | None = "auto",
    stage: str | None = None,
    count: int = 3,
) -> list[AttentionSnapshot]:
    """The snapshots to show, in the order given.

    ``stage`` ("pretrain" or "gan") keeps only that stage. ``epochs`` None or "auto" spreads
    ``count`` snapshots evenly from the first to the last saved one (3: first, middle, last);
    otherwise it lists epochs counted from 1 as the log prints them: an int within ``stage`` (or
    the only stage saved) or "stage:epoch" such as "gan:3".
    """
    if stage is not None:
        if stage not in STAGES:
            raise ConfigError(f"unknown stage {stage!r} (choose from {', '.join(STAGES)})")
        snapshots = [snap for snap in snapshots if snap.stage == stage]
        if not snapshots:
            raise ConfigError(f"no attention maps of the {stage!r} stage were saved")
    if epochs is None or epochs == "auto":
        if count < 1:
            raise ConfigError(f"the number of epochs to show must be at least 1, got {count}")
        last = len(snapshots) - 1
        if count == 1:
            return [snapshots[last]]
        picks = sorted({step * last // (count - 1) for step in range(count)})
        return [snapshots[index] for index in picks]
    if isinstance(epochs, str):
        raise ConfigError(f"epochs must be 'auto' or a list of epochs, got {epochs!r}")
    saved = {(snap.stage, snap.epoch + 1): snap for snap in snapshots}
    stages = sorted({snap.stage for snap in snapshots}, key=STAGES.index)
    chosen = []
    for item in epochs:
        key = _epoch_key(item, stage or (stages[0] if len(stages) == 1 else None))
        if key not in saved:
            listing = ", ".join(snap.label for snap in snapshots)
            raise ConfigError(f"no attention maps saved for {key[0]} epoch {key[1]} ({listing})")
        chosen.append(saved[key])
    if not chosen:
        raise ConfigError("no epochs chosen for the attention-evolution figure")
    return chosen


def _epoch_key(item: int | str, stage: str | None) -> tuple[str, int]:
    """(stage, 1-based epoch) of one ``epochs`` entry."""
    if isinstance(item, str) and ":" in item:
        stage_name, _, number = item.partition(":")
        if stage_name not in STAGES or not number.strip().isdigit():
            raise ConfigError(f"epoch {item!r} is not 'stage:epoch' (e.g. 'gan:3')")
        return stage_name, int(number)
    if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
        raise ConfigError(f"epoch {item!r} is neither an epoch number nor 'stage:epoch'")
    if stage is None:
        raise ConfigError(
            f"epoch {item} is ambiguous: the run saved attention maps in both stages "
            f"(pass a stage or write e.g. 'gan:{item}')"
        )
    return stage, int(item)


def read_snapshot(path: str | Path) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Stems, images (H x W in [-1, 1]) and attention maps (levels x H x W, coarsest first) of
    one saved attention file, as float32; a malformed file is a DataError naming it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            stems = [str(stem) for stem in arrays["stems"]]
            images = [arrays[f"image_{i}"].astype(np.float32) for i in range(len(stems))]
            maps = [arrays[f"attention_{i}"].astype(np.float32) for i in range(len(stems))]
    except KeyError as err:
        raise DataError(path, f"not a sagegan attention file (missing {err})") from None
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(path, f"unreadable attention file ({err})") from None
    for stem, image, levels in zip(stems, images, maps, strict=True):
        if image.ndim != 2 or levels.ndim != 3 or levels.shape[1:] != image.shape:
            raise DataError(
                path,
                f"attention maps of {stem} have shape {levels.shape}, image {image.shape} "
                "(expected levels x H x W over an H x W image)",
            )
    return stems, images, maps
