"""Intensity normalisation to the [-1, 1] range used by the networks, and back to 8-bit."""

from __future__ import annotations

import numpy as np

from sagegan.errors import ConfigError


def normalize_image(image: np.ndarray, low: float = 0.5, high: float = 99.5) -> np.ndarray:
    """Map the `low`/`high` percentiles of `image` to -1/1 and clip, as float32.

    Percentiles instead of min/max keep a few hot or dead pixels from compressing the contrast.
    Images whose percentiles coincide (constant images) become zeros.
    """
    if not 0.0 <= low < high <= 100.0:
        raise ConfigError(
            f"normalisation percentiles must satisfy 0 <= low < high <= 100, got {low}, {high}"
        )
    image = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(image, [low, high])
    if not hi > lo:
        return np.zeros(image.shape, dtype=np.float32)
    # float32 throughout and in place: one image-sized temporary, even for an 8192^2 image
    scaled = image - np.float32(lo)
    scaled *= np.float32(2.0 / (hi - lo))
    scaled -= np.float32(1.0)
    return np.clip(scaled, -1.0, 1.0, out=scaled)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Convert a [-1, 1] image to uint8 0..255 (values outside are clipped, never wrapped)."""
    image = np.asarray(image, dtype=np.float32)
    return np.round((np.clip(image, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
