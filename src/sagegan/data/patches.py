"""Random training crops at native resolution and explicit, area-averaged downscaling.

Images are never resized to a fixed shape or squashed to another aspect ratio. An image smaller
than the patch is reflect-padded; its mask is padded as background and the returned `valid` map is
0 on the padding, so losses and metrics can ignore those pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from sagegan.errors import ConfigError


def _pad_to(
    image: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad each axis shorter than `size` at a random offset (image reflected, labels/valid 0)."""
    widths = []
    for length, target in zip(image.shape, size, strict=True):
        missing = max(target - length, 0)
        before = int(rng.integers(0, missing + 1)) if missing else 0
        widths.append((before, missing - before))
    if all(before == after == 0 for before, after in widths):
        return image, labels, valid
    return (
        np.pad(image, widths, mode="reflect" if min(image.shape) > 1 else "edge"),
        np.pad(labels, widths),
        np.pad(valid, widths),
    )


def sample_patch(
    image: np.ndarray,
    labels: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    foreground_bias: float = 0.0,
    valid: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random `size` crop of (image, labels, valid) at native resolution.

    With probability `foreground_bias` the crop is centred (as far as the borders allow) on a
    random foreground pixel inside the valid area; otherwise its position is uniform. `valid`
    (default all ones) is 0 where the crop lies on padding. Returns float32, int32, float32.
    """
    if image.shape != labels.shape:
        raise ValueError(f"image shape {image.shape} differs from labels shape {labels.shape}")
    height, width = (int(v) for v in size)
    if height < 1 or width < 1:
        raise ConfigError(f"patch size must be positive, got {size}")
    if not 0.0 <= foreground_bias <= 1.0:
        raise ConfigError(f"foreground_bias must be in [0, 1], got {foreground_bias}")
    valid = np.ones(image.shape, np.float32) if valid is None else np.asarray(valid, np.float32)
    image, labels, valid = _pad_to(image, labels, valid, (height, width), rng)
    max_top, max_left = image.shape[0] - height, image.shape[1] - width
    centred = foreground_bias > 0 and rng.random() < foreground_bias
    candidates = np.flatnonzero((labels > 0) & (valid > 0)) if centred else np.empty(0)
    if candidates.size:
        y, x = np.unravel_index(candidates[rng.integers(candidates.size)], labels.shape)
        top = int(np.clip(y - height // 2, 0, max_top))
        left = int(np.clip(x - width // 2, 0, max_left))
    else:
        top = int(rng.integers(0, max_top + 1))
        left = int(rng.integers(0, max_left + 1))
    window = (slice(top, top + height), slice(left, left + width))
    return (
        image[window].astype(np.float32),
        labels[window].astype(np.int32),
        valid[window].astype(np.float32),
    )


def _area_weights(n_in: int, n_out: int) -> sparse.csr_matrix:
    """(n_out, n_in) matrix averaging input pixels over each output pixel's footprint."""
    step = n_in / n_out
    rows, cols, weights = [], [], []
    for out in range(n_out):
        start, stop = out * step, (out + 1) * step
        for src in range(int(np.floor(start)), min(int(np.ceil(stop)), n_in)):
            overlap = min(stop, src + 1) - max(start, src)
            if overlap > 0:
                rows.append(out)
                cols.append(src)
                weights.append(overlap / step)
    return sparse.csr_matrix((weights, (rows, cols)), shape=(n_out, n_in))


def rescale(image: np.ndarray, labels: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Downscale by `factor` >= 1: image by exact area averaging, labels by nearest neighbour.

    Each side becomes round(side / factor) (at least 1). The caller multiplies its pixel size by
    `factor`. Instances smaller than the new pixels may disappear from the labels.
    """
    if not factor >= 1.0:
        raise ConfigError(f"rescale factor must be >= 1 (downscaling), got {factor}")
    if image.shape != labels.shape:
        raise ValueError(f"image shape {image.shape} differs from labels shape {labels.shape}")
    if factor == 1.0:
        return image.astype(np.float32), labels.astype(np.int32)
    out_shape = tuple(max(1, round(n / factor)) for n in image.shape)
    rows = _area_weights(image.shape[0], out_shape[0])
    cols = _area_weights(image.shape[1], out_shape[1])
    small = rows @ (cols @ image.astype(np.float64).T).T
    centres = [
        np.minimum(((np.arange(m) + 0.5) * n / m).astype(int), n - 1)
        for n, m in zip(image.shape, out_shape, strict=True)
    ]
    return small.astype(np.float32), labels[np.ix_(*centres)].astype(np.int32)
