"""Reading and writing microscopy images, binary masks and instance label maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image


def _prepare_parent(path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write a 2-D grayscale image; uint8/uint16 keep their values, float is saved as float32 TIFF."""
    path = _prepare_parent(Path(path))
    if image.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D image, got shape {image.shape}")
    if path.suffix.lower() in (".tif", ".tiff"):
        data = image.astype(np.float32) if np.issubdtype(image.dtype, np.floating) else image
        tifffile.imwrite(path, data, compression="zlib")
    else:
        if image.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"{path}: PNG images must be uint8 or uint16, got {image.dtype}")
        Image.fromarray(image).save(path)


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """Write a binary mask as 0/255 uint8 (PNG or TIFF by suffix); any non-zero value is particle."""
    write_image(path, np.where(np.asarray(mask) > 0, 255, 0).astype(np.uint8))


def write_labels(path: str | Path, labels: np.ndarray) -> None:
    """Write an instance label map (0 = background, 1..N) as uint16 (or uint32 when N > 65535) TIFF."""
    labels = np.asarray(labels)
    dtype = np.uint16 if labels.max(initial=0) <= np.iinfo(np.uint16).max else np.uint32
    path = _prepare_parent(Path(path))
    tifffile.imwrite(path, labels.astype(dtype), compression="zlib")
