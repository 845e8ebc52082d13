"""What a run writes besides checkpoints: the epoch log, image grids and attention maps (their
places in the run folder: `sagegan.models.run_folder`).

* ``RUN/log.jsonl``: one JSON object per epoch (stage, epoch, mean losses, validation scores,
  learning rates, seconds, online-augmentation probability, skipped steps, warnings).
* TensorBoard scalars in ``RUN/tensorboard`` when ``torch.utils.tensorboard`` can be imported (it
  needs the optional ``tensorboard`` package; without it this is skipped with one info message).
* ``RUN/grids/<stage>_epoch_XXXX.png``: real images, their masks, S's predictions, attention heat
  maps and (stage 2) generated images.
* ``RUN/attention/<stage>_epoch_XXXX.npz`` (+ ``.png``): attention maps of a fixed set of validation
  images, every gate level upsampled to the image size, for the attention-evolution figure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from torch import nn

from sagegan.errors import DataError
from sagegan.infer.overlays import OVERLAY_COLORMAP
from sagegan.models.run_folder import RunFolder
from sagegan.train.runtime import Runtime, evaluating

LOGGER = logging.getLogger("sagegan")
STAGE_ORDER = {"pretrain": 0, "gan": 1}


class RunLog:
    """Appends epoch records to ``log.jsonl`` (and TensorBoard if available)."""

    def __init__(self, run_dir: str | Path, enabled: bool = True) -> None:
        folder = RunFolder(run_dir)
        self.enabled = enabled
        self.path = folder.log_path()
        if enabled and self.path.is_file():
            _drop_torn_tail(self.path)
        self.tensorboard = _open_tensorboard(folder.tensorboard_dir()) if enabled else None

    def truncate_after(self, stage: str, epoch: int) -> None:
        """Drop records written after (stage, epoch): epochs a killed run logged but never saved."""
        if not self.enabled or not self.path.is_file():
            return
        kept = []
        for number, record in enumerate(read_log(self.path), start=1):
            if record.get("stage") not in STAGE_ORDER or not isinstance(record.get("epoch"), int):
                raise DataError(self.path, f"record {number} has no known stage and integer epoch")
            if (STAGE_ORDER[record["stage"]], record["epoch"]) <= (STAGE_ORDER[stage], epoch):
                kept.append(json.dumps(record, sort_keys=True))
        self.path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        """Append one epoch record."""
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
        LOGGER.info(summary_line(record))
        if self.tensorboard is not None:
            step = record["epoch"] + (0 if record["stage"] == "pretrain" else 100_000)
            for group in ("losses", "val", "lr"):
                for name, value in record.get(group, {}).items():
                    self.tensorboard.add_scalar(f"{record['stage']}/{group}/{name}", value, step)
            self.tensorboard.flush()


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a run's ``log.jsonl``, one a line (blank lines skipped).

    A torn last line (the run was killed while appending it) is dropped with a warning naming the
    file and line; any other line that is not a JSON object is a DataError naming file and line.
    """
    path = Path(path)
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as err:
        raise DataError(path, f"cannot read the run log ({err.strerror})") from None
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    records = []
    for index, (number, line) in enumerate(numbered):
        record, problem = _parse_line(line)
        if record is not None:
            records.append(record)
        elif index == len(numbered) - 1:
            _warn_torn(path, number)
        else:
            raise DataError(path, f"line {number} {problem}")
    return records


def _parse_line(line: bytes) -> tuple[dict[str, Any] | None, str]:
    """(the JSON object on ``line``, "") or (None, what is wrong with it)."""
    try:
        record = json.loads(line.decode("utf-8"))
    except ValueError as err:  # also UnicodeDecodeError
        return None, f"is not valid JSON ({err})"
    if not isinstance(record, dict):
        return None, "is not a JSON object"
    return record, ""


def _warn_torn(path: Path, number: int) -> None:
    LOGGER.warning(
        "%s: dropped the torn last line %d (the run was stopped while writing it)", path, number
    )


def _drop_torn_tail(path: Path) -> None:
    """Cut a torn last line off ``path`` (with a warning) and end the file with a newline, so that
    the next record is appended on a line of its own."""
    data = path.read_bytes()
    body = data.rstrip()
    start = body.rfind(b"\n") + 1
    if not body or _parse_line(body[start:])[0] is not None:
        if body and not data.endswith(b"\n"):
            with open(path, "ab") as handle:
                handle.write(b"\n")
        return
    _warn_torn(path, body.count(b"\n", 0, start) + 1)
    with open(path, "r+b") as handle:
        handle.truncate(start)


def summary_line(record: dict[str, Any]) -> str:
    """One readable line per epoch: validation scores and time."""
    scores = ", ".join(f"{name} {value:.4f}" for name, value in record.get("val", {}).items())
    seconds = record.get("seconds", {}).get("epoch")
    timing = "" if seconds is None else f" ({seconds:.0f} s)"
    epoch = "before training" if record["epoch"] < 0 else f"epoch {record['epoch'] + 1}"
    return f"{record['stage']} {epoch}: validation {scores or 'not run'}{timing}"


def _open_tensorboard(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        LOGGER.debug("TensorBoard logging skipped: the tensorboard package is not installed")
        return None
    return SummaryWriter(str(folder))


def save_grid(path: str | Path, columns: dict[str, Sequence[np.ndarray]]) -> None:
    """PNG grid: one column per named panel, one row per example (images in [-1, 1] or [0, 1]);
    attention columns (named "attention...") in the heat-map colour map of the attention overlays
    on [0, 1], with a colour bar."""
    names = list(columns)
    rows = max(len(columns[name]) for name in names)
    figure, axes = plt.subplots(
        rows,
        len(names),
        figsize=(2.2 * len(names) + 0.6, 2.2 * rows),
        squeeze=False,
        layout="constrained",
    )
    heat_axes = []
    for col, name in enumerate(names):
        heat = name.startswith("attention")
        for row in range(rows):
            axis = axes[row][col]
            axis.axis("off")
            if row < len(columns[name]):
                panel = columns[name][row]
                low = 0.0 if heat or panel.min() >= 0 else -1.0
                cmap = OVERLAY_COLORMAP if heat else "gray"
                axis.imshow(panel, cmap=cmap, vmin=low, vmax=1.0, interpolation="nearest")
            if row == 0:
                axis.set_title(name, fontsize=8)
        heat_axes += list(axes[:, col]) if heat else []
    if heat_axes:
        mappable = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=OVERLAY_COLORMAP)
        figure.colorbar(mappable, ax=heat_axes, shrink=0.8).ax.tick_params(labelsize=7)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def save_attention(
    path_stem: str | Path,
    stems: Sequence[str],
    images: Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
) -> None:
    """Write ``<path_stem>.npz`` and a PNG overlay of the finest and coarsest levels.

    The npz holds ``stems`` and, per image i, ``image_i`` (H x W) and ``attention_i`` (levels x H x
    W, coarsest level first, every level upsampled to the image size), all float16.
    """
    path_stem = Path(path_stem)
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {"stems": np.array(list(stems))}
    for index, (image, levels) in enumerate(zip(images, maps, strict=True)):
        arrays[f"image_{index}"] = image.astype(np.float16)
        arrays[f"attention_{index}"] = levels.astype(np.float16)
    np.savez_compressed(path_stem.with_suffix(".npz"), **arrays)
    columns = {
        "image": list(images),
        "attention (finest)": [levels[-1] for levels in maps],
        "attention (coarsest)": [levels[0] for levels in maps],
    }
    save_grid(path_stem.with_suffix(".png"), columns)


@torch.no_grad()
def save_attention_maps(
    segmenter: nn.Module, samples: Sequence[Any], runtime: Runtime, path_stem: str | Path
) -> None:
    """The segmenter's attention maps of ``samples`` (whole validation images), upsampled to the
    image size and written by :func:`save_attention`; nothing for a network without attention."""
    from sagegan.models.attention_unet import upsample_attention
    from sagegan.models.checkpoint import unwrap

    model = unwrap(segmenter)
    stems, images, maps = [], [], []
    for sample in samples:
        batch = torch.from_numpy(np.ascontiguousarray(sample.image))[None, None]
        with evaluating(model), runtime.autocast():
            attention = model(batch.to(runtime.device)).attention
        if not attention:
            return
        size = sample.image.shape
        maps.append(upsample_attention(attention, size)[0].float().cpu().numpy())
        stems.append(sample.stem)
        images.append(sample.image)
    save_attention(path_stem, stems, images, maps)
