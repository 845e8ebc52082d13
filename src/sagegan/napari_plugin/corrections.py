"""Corrected labels into a dataset folder that ``sagegan train`` reads (`sagegan.data.pairing`).

Layout: ``DATASET/images/<stem>.<ext>`` with ``DATASET/<masks>/<stem>.tif``, where ``<masks>`` is
`mask_folder_name`: ``labels`` (exact instances, as the demo and the simulator write them) unless
the folder already keeps its masks in ``masks/`` only. The image is the source file copied as it
is (its calibration stays: a sidecar ``<stem>.txt`` is copied along), or an in-memory image written
as a TIFF with its pixel size. Labels are renumbered 1..N and written as a uint16 label TIFF
(`write_labels`). Saving a stem again replaces its files, whatever their extensions were.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
from skimage.segmentation import relabel_sequential

from sagegan.data.calibration import check_pixel_size
from sagegan.data.io import read_image, write_image, write_labels
from sagegan.data.pairing import Pair, is_image_file
from sagegan.errors import ConfigError, DataError

IMAGES = "images"
LABELS = "labels"
MASKS = "masks"
SIDECAR = ".txt"


def mask_folder_name(dataset: str | Path) -> str:
    """Where the dataset keeps its masks: ``masks`` when only that folder exists, else ``labels``
    (the folder `sagegan train --mask-dir` must then be given)."""
    root = Path(dataset)
    return MASKS if (root / MASKS).is_dir() and not (root / LABELS).is_dir() else LABELS


def safe_stem(name: str) -> str:
    """A file stem from a layer name: letters, digits, ``.``, ``_`` and ``-`` kept, the rest
    ``_``; ConfigError when nothing is left."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    if not stem:
        raise ConfigError(f"cannot make a file name from the layer name {name!r}")
    return stem


def _check_labels(labels: np.ndarray, shape: tuple[int, ...], stem: str) -> np.ndarray:
    """``labels`` as non-negative integers renumbered 1..N; SageganErrors for what training would
    refuse or misread."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape != tuple(shape):
        raise DataError(None, f"{stem}: labels shape {labels.shape} does not match image {shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min(initial=0) < 0:
        raise DataError(None, f"{stem}: labels must be non-negative integers (0 = background)")
    if not labels.any():
        raise DataError(None, f"{stem}: the labels layer is empty: paint the particles first")
    return relabel_sequential(labels.astype(np.int64))[0]


def _clear_stem(folder: Path, stem: str) -> None:
    """Remove earlier files of ``stem`` in ``folder`` (any image extension), so that a stem saved
    again pairs with one image and one mask only."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.stem == stem and is_image_file(path):
                path.unlink()


def save_correction(
    dataset: str | Path,
    stem: str,
    labels: np.ndarray,
    source: str | Path | None = None,
    image: np.ndarray | None = None,
    pixel_size_nm: float | None = None,
) -> Pair:
    """Write the image and its corrected ``labels`` into ``dataset`` under ``stem``: the file
    ``source`` copied when given, else the 2-D ``image`` as a TIFF calibrated with
    ``pixel_size_nm``. Returns the pair as `find_pairs` will see it. A labels layer that is empty,
    not integer or not the image's shape is refused (DataError, one line)."""
    root = Path(dataset)
    stem = safe_stem(stem)
    check_pixel_size(pixel_size_nm)
    if source is not None:
        source = Path(source)
        if not source.is_file():
            raise DataError(source, "image file not found")
        shape = read_image(source).shape  # a DataError naming the file when unreadable
    elif image is not None:
        shape = np.asarray(image).shape
    else:
        raise ConfigError("give the image's source file or its data")
    renumbered = _check_labels(labels, shape, stem)
    images, masks = root / IMAGES, root / mask_folder_name(root)
    image_path = images / f"{stem}{source.suffix.lower() if source is not None else '.tif'}"
    if source is None or source.resolve() != image_path.resolve():
        _clear_stem(images, stem)
        images.mkdir(parents=True, exist_ok=True)
        if source is not None:
            shutil.copyfile(source, image_path)
            sidecar = source.with_suffix(SIDECAR)
            if sidecar.is_file():
                shutil.copyfile(sidecar, image_path.with_suffix(SIDECAR))
        else:
            write_image(image_path, np.asarray(image), pixel_size_nm)
    mask_path = masks / f"{stem}.tif"
    _clear_stem(masks, stem)
    write_labels(mask_path, renumbered, pixel_size_nm)
    return Pair(stem, image_path, mask_path)
