"""Training-time augmentation of float32 [-1, 1] images with their labels and valid maps.

Geometric ops (flips, 90° rotations, zoom) move image, labels and valid identically; labels are
resampled by nearest neighbour so instance ids survive. Intensity ops touch the image only and the
result is clipped to [-1, 1] (never wrapped). Each op fires with its own probability; ranges are
inclusive (low, high) draws from a uniform distribution. Order: flips, rotation, zoom, inversion,
CLAHE, brightness, contrast, gamma, blur, Gaussian noise, Poisson noise.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage
from skimage import exposure

from sagegan.config_schema import ConfigRecord
from sagegan.errors import ConfigError


@dataclass
class AugmentConfig(ConfigRecord):
    """Probability of each op and the range its parameter is drawn from (``from_dict`` and
    ``to_dict`` come from `sagegan.config_schema`).

    * `rot90`: a square patch turns by 90, 180 or 270°, a non-square one by 180° (shape kept).
    * `scale`: zoom factor from `scale_range` (> 1 zooms in); zooming out reflect-pads the image
      and marks the new border as background with valid = 0.
    * `brightness`: added offset; `contrast`: factor about the mean; `gamma`: exponent on [0, 1].
    * `blur`: Gaussian sigma in pixels; `gaussian_noise`: sigma in [-1, 1] units.
    * `poisson_noise`: the [0, 1] image times a photon count from `poisson_counts`, Poisson
      sampled and divided back (fewer counts = more noise).
    * `clahe`: skimage `equalize_adapthist` clip limit from `clahe_clip`.
    * `invert`: the image is negated (bright particles on dark become dark on bright), for
      datasets that mix both contrasts (off by default: it would teach a single-contrast dataset
      to accept the wrong one).
    """

    hflip: float = 0.5
    vflip: float = 0.5
    rot90: float = 0.5
    scale: float = 0.3
    scale_range: tuple[float, float] = (0.8, 1.25)
    brightness: float = 0.3
    brightness_range: tuple[float, float] = (-0.2, 0.2)
    contrast: float = 0.3
    contrast_range: tuple[float, float] = (0.75, 1.33)
    gamma: float = 0.3
    gamma_range: tuple[float, float] = (0.7, 1.5)
    blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    gaussian_noise: float = 0.2
    noise_sigma: tuple[float, float] = (0.01, 0.05)
    poisson_noise: float = 0.1
    poisson_counts: tuple[float, float] = (20.0, 200.0)
    clahe: float = 0.1
    clahe_clip: tuple[float, float] = (0.005, 0.02)
    invert: float = 0.0

    CONFIG_NAME = "augment options"

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.type.startswith("tuple"):
                if len(value) != 2 or not value[0] <= value[1]:
                    raise ConfigError(f"{item.name} must be a (low, high) pair, got {value}")
                setattr(self, item.name, (float(value[0]), float(value[1])))
            elif not 0.0 <= value <= 1.0:
                raise ConfigError(f"{item.name} is a probability in [0, 1], got {value}")
        positive = ("scale_range", "contrast_range", "gamma_range", "poisson_counts", "clahe_clip")
        for name in positive:
            if getattr(self, name)[0] <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _zoom(
    image: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    factor: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Zoom by `factor` about a random window, same shape out (labels nearest, valid 0 outside)."""
    shape = np.array(image.shape, dtype=np.float64)
    window = shape / factor
    slack = shape - window
    corner = np.array([rng.uniform(min(0.0, s), max(0.0, s)) for s in slack])
    matrix = np.full(2, 1.0 / factor)
    source = image if factor >= 1 else ndimage.gaussian_filter(image, (1.0 / factor - 1.0) / 2)
    zoomed = ndimage.affine_transform(
        source, matrix, offset=corner, order=1, mode="mirror", output=np.float32
    )
    kwargs = {"offset": corner, "order": 0, "mode": "constant", "cval": 0}
    return (
        zoomed,
        ndimage.affine_transform(labels, matrix, output=np.int32, **kwargs),
        ndimage.affine_transform(valid, matrix, output=np.float32, **kwargs),
    )


def _geometric(
    image: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray,
    cfg: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = [image, labels, valid]
    if rng.random() < cfg.hflip:
        arrays = [a[:, ::-1] for a in arrays]
    if rng.random() < cfg.vflip:
        arrays = [a[::-1, :] for a in arrays]
    if rng.random() < cfg.rot90:
        turns = int(rng.integers(1, 4)) if image.shape[0] == image.shape[1] else 2
        arrays = [np.rot90(a, turns) for a in arrays]
    arrays = [np.ascontiguousarray(a) for a in arrays]
    if rng.random() < cfg.scale:
        arrays = list(_zoom(*arrays, _uniform(rng, cfg.scale_range), rng))
    return arrays[0], arrays[1], arrays[2]


def _intensity(image: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    image = image.astype(np.float64)
    # drawn only when enabled, so configs without inversion keep their random stream
    if cfg.invert > 0 and rng.random() < cfg.invert:
        image = -image
    if rng.random() < cfg.clahe:
        unit = np.clip((image + 1.0) / 2.0, 0.0, 1.0)
        image = exposure.equalize_adapthist(unit, clip_limit=_uniform(rng, cfg.clahe_clip)) * 2 - 1
    if rng.random() < cfg.brightness:
        image = image + _uniform(rng, cfg.brightness_range)
    if rng.random() < cfg.contrast:
        mean = image.mean()
        image = (image - mean) * _uniform(rng, cfg.contrast_range) + mean
    if rng.random() < cfg.gamma:
        unit = np.clip((image + 1.0) / 2.0, 0.0, 1.0)
        image = unit ** _uniform(rng, cfg.gamma_range) * 2.0 - 1.0
    if rng.random() < cfg.blur:
        image = ndimage.gaussian_filter(image, _uniform(rng, cfg.blur_sigma))
    if rng.random() < cfg.gaussian_noise:
        image = image + rng.normal(0.0, _uniform(rng, cfg.noise_sigma), image.shape)
    if rng.random() < cfg.poisson_noise:
        counts = _uniform(rng, cfg.poisson_counts)
        unit = np.clip((image + 1.0) / 2.0, 0.0, 1.0)
        image = rng.poisson(unit * counts) / counts * 2.0 - 1.0
    return np.clip(image, -1.0, 1.0).astype(np.float32)


def augment(
    image: np.ndarray,
    labels: np.ndarray,
    valid: np.ndarray | None,
    cfg: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply `cfg` to a float32 [-1, 1] image with its int labels and valid map (default ones)."""
    if image.shape != labels.shape:
        raise ValueError(f"image shape {image.shape} differs from labels shape {labels.shape}")
    valid = np.ones(image.shape, np.float32) if valid is None else np.asarray(valid, np.float32)
    image, labels, valid = _geometric(
        np.asarray(image, np.float32), np.asarray(labels, np.int32), valid, cfg, rng
    )
    return _intensity(image, cfg, rng), labels, valid
