"""A run's working resolution (``data.scale``): samples and maps resampled to it and back.

A run with ``data.scale`` s trains on its images resampled by s (area-weighted when shrinking,
bilinear when enlarging; instance labels by nearest neighbour), so a network of a given size
sees 1/s² times the area of each patch at s < 1. Everything else stays on the native grid:
validation and inference resample the image, predict, and take the maps back to the native
grid before the instance split (`sagegan.infer.scaling`), so scores, split options and sizes
are in native pixels.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from skimage.transform import resize

from sagegan.data.calibration import PixelSize
from sagegan.data.dataset import Sample
from sagegan.errors import ConfigError

MIN_SCALE = 0.25
MAX_SCALE = 4.0
MIN_SIDE_PX = 8  # a resampled image keeps at least this many pixels per side


def check_scale(scale: float) -> float:
    """``scale`` as a float; ConfigError outside [MIN_SCALE, MAX_SCALE]."""
    value = float(scale)
    if not MIN_SCALE <= value <= MAX_SCALE:
        raise ConfigError(f"data.scale must lie in [{MIN_SCALE}, {MAX_SCALE}], got {scale!r}")
    return value


def scaled_shape(shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    """The (height, width) of a ``shape`` image resampled by ``scale`` (rounded, >= MIN_SIDE_PX)."""
    return (max(MIN_SIDE_PX, round(shape[0] * scale)), max(MIN_SIDE_PX, round(shape[1] * scale)))


def resample_map(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A float map resampled to ``shape``: area-weighted where it shrinks, bilinear otherwise."""
    shrinking = shape[0] < values.shape[0] or shape[1] < values.shape[1]
    out = resize(values, shape, order=1, preserve_range=True, anti_aliasing=shrinking)
    return out.astype(np.float32)


def resample_labels(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Instance labels resampled to ``shape`` by nearest neighbour (no new ids)."""
    out = resize(labels, shape, order=0, preserve_range=True, anti_aliasing=False)
    return out.astype(labels.dtype)


def resample_sample(sample: Sample, scale: float) -> Sample:
    """``sample`` at ``scale`` times its size (image, labels and pixel size); itself at 1."""
    if scale == 1.0:
        return sample
    shape = scaled_shape(sample.image.shape, scale)
    labels = None if sample.labels is None else resample_labels(sample.labels, shape)
    pixel_size = sample.pixel_size
    if pixel_size is not None:
        pixel_size = PixelSize(pixel_size.nm * sample.image.shape[1] / shape[1], pixel_size.source)
    return replace(
        sample, image=resample_map(sample.image, shape), labels=labels, pixel_size=pixel_size
    )
