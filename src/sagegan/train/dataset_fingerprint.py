"""The fingerprint of a training set, what the planner (`sagegan.train.planning`) plans from.

Image sizes, particle sizes (equivalent circular diameters of the annotated instances), foreground
fraction, contrast polarity (are particles brighter or darker than the ring of background around
them) and how close particles lie to each other: the share that touch another instance and the
share with another within 2 px, 1-px gaps included (masks that keep touching particles apart by a
gap have many more of the second).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from sagegan.data.separation import contact_shares
from sagegan.errors import ConfigError, DataError

MIXED_POLARITY_SHARE = 0.1  # the minority contrast must cover this share of images


@dataclass
class Fingerprint:
    """What the planner knows about a training set (pixel units)."""

    images: int
    median_shape: tuple[int, int]
    particles: int
    diameter_px: dict[str, float]  # p10, median, p90 of equivalent circular diameters
    foreground_fraction: float
    bright_share: float  # share of images whose particles are brighter than the background
    touching_share: float = 0.0  # share of particles that touch another (instance label maps)
    near_share: float = 0.0  # share of particles with another within 2 px (gaps included)

    @property
    def mixed_polarity(self) -> bool:
        return min(self.bright_share, 1.0 - self.bright_share) >= MIXED_POLARITY_SHARE


def equivalent_diameters(labels: np.ndarray) -> np.ndarray:
    """Equivalent circular diameter (px) of every instance of a label map."""
    areas = np.bincount(np.asarray(labels).ravel())[1:]
    return np.sqrt(4.0 * areas[areas > 0] / np.pi)


def particles_brighter(image: np.ndarray, labels: np.ndarray) -> bool | None:
    """Whether the particles are brighter than the background ring around them (not the whole
    image); None when the image is all particle or has none."""
    inside = labels > 0
    if not inside.any() or inside.all():
        return None
    ring = ndimage.binary_dilation(inside, iterations=3) & ~inside
    return bool(image[inside].mean() > image[ring].mean())


def fingerprint(images: list[np.ndarray], labels: list[np.ndarray]) -> Fingerprint:
    """The fingerprint of training images ([-1, 1] floats) and their instance labels."""
    if not images or len(images) != len(labels):
        raise ConfigError("a fingerprint needs training images with their labels")
    diameters, fractions, bright = [], [], []
    counts = np.zeros(3)
    for image, label in zip(images, labels, strict=True):
        counts += contact_shares(label)
        diameters.extend(equivalent_diameters(label))
        fractions.append(float((label > 0).mean()))
        brighter = particles_brighter(image, label)
        if brighter is not None:
            bright.append(float(brighter))
    if not diameters:
        raise DataError(None, "every training mask is empty: there is nothing to plan from")
    p10, median, p90 = np.percentile(diameters, [10, 50, 90])
    shapes = np.array([image.shape for image in images])
    return Fingerprint(
        images=len(images),
        median_shape=(int(np.median(shapes[:, 0])), int(np.median(shapes[:, 1]))),
        particles=len(diameters),
        diameter_px={"p10": float(p10), "median": float(median), "p90": float(p90)},
        foreground_fraction=float(np.mean(fractions)),
        bright_share=float(np.mean(bright)) if bright else 1.0,
        touching_share=float(counts[1] / counts[0]),
        near_share=float(counts[2] / counts[0]),
    )
