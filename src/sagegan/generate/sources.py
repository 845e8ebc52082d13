"""The masks to render: mask files of a folder, re-arranged real particles, simulator layouts.

Every mask is an instance label map (0 background, 1..N); new masks are drawn from
``np.random.default_rng([seed, source, index])``, so each one depends only on the seed and its own
index and a larger count extends a smaller one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagegan.data.io import read_mask
from sagegan.data.pairing import is_image_file, mask_image_stems
from sagegan.data.splits import load_split
from sagegan.errors import ConfigError, DataError
from sagegan.synth import sample_layout
from sagegan.synth.config import SimulatorConfig
from sagegan.train.mask_sources import (
    extract_instances,
    foreground_fraction_range,
    matched_simulator_config,
    rearranged_labels,
)

LOGGER = logging.getLogger("sagegan")
SOURCE_KEYS = {"rearranged": 1, "simulator": 2}


@dataclass(frozen=True)
class SourceMask:
    """One mask to render: output name stem, source ("file", "rearranged", "simulator"), labels."""

    name: str
    source: str
    labels: np.ndarray


def read_mask_folder(masks_dir: str | Path) -> list[SourceMask]:
    """Every mask image of ``masks_dir`` (sorted by name), read as instance labels."""
    folder = Path(masks_dir)
    if not folder.is_dir():
        raise DataError(folder, "mask folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))
    if not files:
        raise DataError(folder, "no mask images in this folder")
    masks: dict[str, SourceMask] = {}
    for path in files:
        if path.stem in masks:
            raise DataError(folder, f"two masks named {path.stem!r} (different extensions)")
        masks[path.stem] = SourceMask(path.stem, "file", read_mask(path))
    return list(masks.values())


def training_masks(masks: list[SourceMask], split_file: str | Path) -> list[SourceMask]:
    """The masks that belong to the split file's training images (named like the image, or with a
    mask suffix such as ``_mask``): a bank made from them never shows a held-out mask."""
    train = set(load_split(split_file).train)
    kept = [mask for mask in masks if train.intersection(mask_image_stems(mask.name))]
    if not kept:
        raise DataError(split_file, "no mask of the mask folder belongs to a training image")
    return kept


def rearranged_masks(
    real: list[SourceMask], count: int, size: tuple[int, int], seed: int
) -> list[SourceMask]:
    """``count`` masks of real particles pasted apart at random (``rearranged_labels``), filled to a
    foreground fraction drawn from the real masks' range; instances are the pasted particles."""
    label_maps = [mask.labels for mask in real]
    instances = extract_instances(label_maps)
    if not instances:
        raise DataError(None, "the given masks hold no particles to re-arrange")
    low, high = foreground_fraction_range(label_maps)
    made = []
    for index in range(count):
        rng = np.random.default_rng([seed, SOURCE_KEYS["rearranged"], index])
        fraction = rng.uniform(low, high)
        labels = rearranged_labels(instances, size, fraction, rng)
        made.append(SourceMask(f"rearranged_{index:04d}", "rearranged", labels))
    return made


def simulator_config_for(real: list[SourceMask], size: tuple[int, int]) -> SimulatorConfig:
    """Simulator settings matched to the real masks' particle size and coverage; the defaults of
    ``size`` without real masks or when no valid matched settings exist (e.g. 1-px specks)."""
    if not real:
        return SimulatorConfig(size=size)
    label_maps = [mask.labels for mask in real]
    try:
        return matched_simulator_config(
            extract_instances(label_maps), foreground_fraction_range(label_maps), size
        )
    except ConfigError as err:
        LOGGER.warning("simulator masks use default settings: cannot match the masks (%s)", err)
        return SimulatorConfig(size=size)


def simulator_masks(count: int, config: SimulatorConfig, seed: int) -> list[SourceMask]:
    """``count`` layouts of ``sagegan.synth.sample_layout`` with their instance labels."""
    made = []
    for index in range(count):
        rng = np.random.default_rng([seed, SOURCE_KEYS["simulator"], index])
        labels = np.asarray(sample_layout(rng, config), dtype=np.int32)
        made.append(SourceMask(f"simulator_{index:04d}", "simulator", labels))
    return made
