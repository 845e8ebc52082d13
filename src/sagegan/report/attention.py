"""Attention figures of a trained run: how the gates' focus evolves (paper Fig. 6) and where it
lies on validation images next to the predicted masks (paper Fig. 7).

* `attention_evolution` reads the maps training saved in ``RUN/attention/<stage>_epoch_XXXX.npz``
  (see `sagegan.train.run_log.save_attention`): one row per saved validation image, the image
  itself and then its attention map at a few saved epochs (default the first, middle and last,
  pretraining before the GAN stage).
* `attention_overlays` runs the trained segmenter (`predict_tiled`, native resolution) over
  validation images of the run's split: image | outlines of the predicted (and annotated) masks |
  attention heat map, one PNG per image plus one combined figure.

Attention coefficients are drawn on their absolute [0, 1] scale (no per-image stretching, so epochs
and images compare), blended over the grayscale image with `sagegan.infer.attention_overlay`, the
same heat map that ``sagegan segment`` writes, with a colorbar of that colormap.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from scipy.ndimage import binary_dilation
from skimage.segmentation import find_boundaries

from sagegan.data.dataset import load_sample
from sagegan.errors import ConfigError, DataError
from sagegan.evaluate.selection import select_pairs
from sagegan.infer.device import resolve_device
from sagegan.infer.options import PredictionOptions
from sagegan.infer.segment import OVERLAY_COLORMAP, attention_overlay
from sagegan.models.checkpoint import load_model, read_training_info, training_split_file

ATTENTION_DIR = "attention"
STAGE_ORDER = ("pretrain", "gan")
SNAPSHOT_NAME = re.compile(r"^(pretrain|gan)_epoch_(\d+)\.npz$")
OVERLAY_SPLITS = ("val", "train")
COMBINED_OVERLAY_FILE = "attention_overlays.png"
PANEL_INCHES = 2.4
SINGLE_PANEL_INCHES = 4.0
DPI = 100
PREDICTED_OUTLINE_RGB = (1.0, 0.85, 0.0)
TRUTH_OUTLINE_RGB = (0.0, 0.9, 1.0)
OUTLINE_PIXELS_PER_PX = 1 / 400  # outline width per image pixel, so it survives downscaling


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


@dataclass
class EvolutionFigure:
    """A written attention-evolution figure: its path, the snapshots shown (columns after the
    image) and the validation stems shown (rows)."""

    path: Path
    snapshots: list[AttentionSnapshot]
    stems: list[str]


def find_snapshots(run_dir: str | Path) -> list[AttentionSnapshot]:
    """Every attention file of a run, pretraining first, by epoch; ConfigError if there is none."""
    folder = Path(run_dir) / ATTENTION_DIR
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = SNAPSHOT_NAME.match(path.name)
            if match and path.is_file():
                found.append(AttentionSnapshot(match[1], int(match[2]), path))
    if not found:
        raise ConfigError(
            f"{run_dir}: no attention maps saved (no {ATTENTION_DIR}/<stage>_epoch_XXXX.npz); "
            "train with an attention segmenter and runtime.attention_every > 0"
        )
    return sorted(found, key=lambda snap: (STAGE_ORDER.index(snap.stage), snap.epoch))


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
        if stage not in STAGE_ORDER:
            raise ConfigError(f"unknown stage {stage!r} (choose from {', '.join(STAGE_ORDER)})")
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
    stages = sorted({snap.stage for snap in snapshots}, key=STAGE_ORDER.index)
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
        if stage_name not in STAGE_ORDER or not number.strip().isdigit():
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


def attention_evolution(
    run_dir: str | Path,
    out_png: str | Path,
    epochs: str | Sequence[int | str] | None = "auto",
    stage: str | None = None,
    count: int = 3,
    level: int = -1,
    max_images: int | None = None,
) -> EvolutionFigure:
    """Write the attention-evolution figure (paper Fig. 6) of a run to ``out_png``.

    Rows are the validation images whose maps training saved (at most ``max_images``); columns
    the image and its attention overlay at the snapshots `choose_snapshots` picks from
    ``epochs``, ``stage`` and ``count``. ``level`` indexes the gate levels, coarsest first (-1:
    the finest gate, the one ``sagegan segment`` draws). No saved maps is a ConfigError.
    """
    if max_images is not None and max_images < 1:
        raise ConfigError(f"max_images must be at least 1, got {max_images}")
    chosen = choose_snapshots(find_snapshots(run_dir), epochs, stage, count)
    columns = [read_snapshot(snap.path) for snap in chosen]
    stems, images, _ = columns[0]
    stems, images = stems[:max_images], images[:max_images]
    if not stems:
        raise DataError(chosen[0].path, "holds no images")
    overlays: list[list[np.ndarray]] = []
    for snap, (snap_stems, _, maps) in zip(chosen, columns, strict=True):
        by_stem = dict(zip(snap_stems, maps, strict=True))
        missing = [stem for stem in stems if stem not in by_stem]
        if missing:
            raise DataError(snap.path, f"has no attention maps of {', '.join(missing)}")
        overlays.append(
            [
                _heat(image, by_stem[stem], level, snap.path)
                for stem, image in zip(stems, images, strict=True)
            ]
        )
    figure = _panel_figure(len(stems), 1 + len(chosen), images[0].shape, PANEL_INCHES)
    axes = figure.axes
    for row, (stem, image) in enumerate(zip(stems, images, strict=True)):
        panels = [_gray(image), *(column[row] for column in overlays)]
        titles = ["image", *(snap.label for snap in chosen)]
        row_axes = axes[row * len(panels) : (row + 1) * len(panels)]
        for col, (axis, panel) in enumerate(zip(row_axes, panels, strict=True)):
            _show(axis, panel, titles[col] if row == 0 else None)
        row_axes[0].set_ylabel(stem, fontsize=8)
    _add_colorbar(figure, [axis for index, axis in enumerate(axes) if index % (1 + len(chosen))])
    out_png = _save(figure, out_png)
    return EvolutionFigure(path=out_png, snapshots=list(chosen), stems=stems)


def attention_overlays(
    run_dir: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    split: str = "val",
    max_images: int = 8,
    split_file: str | Path | None = None,
    options: PredictionOptions | None = None,
) -> list[Path]:
    """Write attention overlays (paper Fig. 7) of the run's ``options.which`` segmenter on the first
    ``max_images`` (by stem) images of the ``split`` part ("val" or "train"; the test part stays
    unseen) of ``data_dir``.

    Per image ``<stem>_overlay.png`` shows the image, the outlines of the predicted mask
    (``probability > options.threshold``, yellow) and the annotated instances (cyan), and the
    finest attention map over the image; ``attention_overlays.png`` stacks them. ``options``
    give the checkpoint (``which``), tiling, threshold, databar and device (default
    `PredictionOptions(device="cpu")`); the PyTorch model runs whatever their backend.
    ``split_file`` defaults to the split recorded with the checkpoint, else ``RUN/split.json``.
    Returns the per-image paths, then the combined figure's.
    """
    if split not in OVERLAY_SPLITS:
        raise ConfigError(
            f"attention overlays are drawn on {' or '.join(OVERLAY_SPLITS)} images, "
            f"not {split!r} (the test split is kept for final evaluation)"
        )
    if max_images < 1:
        raise ConfigError(f"max_images must be at least 1, got {max_images}")
    options = PredictionOptions(device="cpu") if options is None else options
    device = resolve_device(options.device)
    model, info = load_model(run_dir, which=options.which, map_location=device)
    training = read_training_info(Path(info["path"]))
    chosen_split = Path(split_file) if split_file is not None else _split_file(run_dir, training)
    pairs = select_pairs(data_dir, split, chosen_split)[:max_images]
    databar = options.databar_for(training)
    out_dir = Path(out_dir)
    written, rows = [], []
    for pair in pairs:
        sample = load_sample(pair, databar)
        prediction = options.predict(model, sample.image)
        if prediction.attention is None:
            raise ConfigError(
                f"{info['path']}: the {info.get('model')} segmenter has no attention gates"
            )
        row = [
            _gray(sample.image),
            _outlines(sample.image, prediction.probability > options.threshold, sample.labels),
            attention_overlay(sample.image, prediction.attention),
        ]
        rows.append((sample.stem, row))
        figure = _overlay_figure([(sample.stem, row)], SINGLE_PANEL_INCHES)
        written.append(_save(figure, out_dir / f"{sample.stem}_overlay.png"))
    figure = _overlay_figure(rows, PANEL_INCHES)
    written.append(_save(figure, out_dir / COMBINED_OVERLAY_FILE))
    return written


def _split_file(run_dir: str | Path, training: dict[str, Any]) -> Path:
    """The split the run was trained with, or a ConfigError."""
    split_file = training_split_file(run_dir, training)
    if split_file is None:
        raise ConfigError(f"{run_dir}: no split file found (pass split_file)")
    return split_file


def _heat(image: np.ndarray, levels: np.ndarray, level: int, path: Path) -> np.ndarray:
    if not -len(levels) <= level < len(levels):
        raise ConfigError(f"{path}: attention level {level} out of range ({len(levels)} levels)")
    return attention_overlay(image, levels[level])


def _gray(image: np.ndarray) -> np.ndarray:
    """RGB uint8 of a [-1, 1] grayscale image."""
    gray = np.round((np.clip(image, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def _outlines(image: np.ndarray, predicted: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """RGB uint8 image with annotated instance outlines (cyan) under predicted ones (yellow)."""
    rgb = _gray(image)
    width = max(1, round(max(image.shape) * OUTLINE_PIXELS_PER_PX))
    layers = [] if labels is None else [(labels, TRUTH_OUTLINE_RGB)]
    for mask, colour in [*layers, (predicted, PREDICTED_OUTLINE_RGB)]:
        edges = find_boundaries(mask, mode="inner")
        if width > 1:
            edges = binary_dilation(edges, iterations=width - 1)
        rgb[edges] = np.round(np.array(colour) * 255).astype(np.uint8)
    return rgb


def _panel_figure(rows: int, cols: int, shape: tuple[int, ...], inches: float) -> Figure:
    """Figure of rows x cols image panels of aspect ``shape`` plus room for a colorbar."""
    height = inches * shape[0] / shape[1]
    figure = Figure(figsize=(inches * cols + 1.0, height * rows + 0.4), layout="constrained")
    figure.subplots(rows, cols, squeeze=False)
    return figure


def _overlay_figure(rows: list[tuple[str, list[np.ndarray]]], inches: float) -> Figure:
    titles = ["image", "outlines: predicted (yellow), annotated (cyan)", "attention"]
    figure = _panel_figure(len(rows), len(titles), rows[0][1][0].shape, inches)
    axes = figure.axes
    for index, (stem, panels) in enumerate(rows):
        row_axes = axes[index * len(titles) : (index + 1) * len(titles)]
        for col, (axis, panel) in enumerate(zip(row_axes, panels, strict=True)):
            _show(axis, panel, titles[col] if index == 0 else None)
        row_axes[0].set_ylabel(stem, fontsize=8)
    _add_colorbar(figure, axes[len(titles) - 1 :: len(titles)])
    return figure


def _show(axis: Axes, panel: np.ndarray, title: str | None) -> None:
    axis.imshow(panel, interpolation="antialiased")
    axis.set_xticks([])
    axis.set_yticks([])
    if title is not None:
        axis.set_title(title, fontsize=8)


def _add_colorbar(figure: Figure, axes: list[Axes]) -> None:
    """One colorbar of the heat map's colormap on [0, 1] beside ``axes``."""
    mappable = ScalarMappable(norm=Normalize(0.0, 1.0), cmap=colormaps[OVERLAY_COLORMAP])
    figure.colorbar(mappable, ax=axes, label="attention coefficient", shrink=0.9)


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path
