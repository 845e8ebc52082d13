"""Particle placements and the primitives the layouts share: sizes, sampling, thinning, cropping.

Lengths are in pixels; centres are (y, x) and may lie slightly outside the canvas.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class SizeDistribution:
    """Log-normal distribution of particle diameters in pixels.

    ``median_px`` is the median diameter, ``sigma`` the standard deviation of log(diameter).
    Samples are clipped to three sigma and to at least 2 px so that every particle is drawable.
    """

    median_px: float
    sigma: float

    def sample(self, rng: np.random.Generator, n: int, sigma_scale: float = 1.0) -> np.ndarray:
        sigma = self.sigma * sigma_scale
        logs = np.clip(rng.standard_normal(n), -3.0, 3.0) * sigma
        return np.maximum(self.median_px * np.exp(logs), 2.0)

    @property
    def mean_diameter(self) -> float:
        return self.median_px * math.exp(self.sigma**2 / 2.0)

    @property
    def mean_area(self) -> float:
        """Mean disc area in px^2 (E[d^2] = median^2 exp(2 sigma^2))."""
        return math.pi / 4.0 * self.median_px**2 * math.exp(2.0 * self.sigma**2)


@dataclass(frozen=True)
class Placement:
    """Particle centres (N, 2) as (y, x) pixels and equivalent-circle diameters (N,) in pixels."""

    centers: np.ndarray
    diameters: np.ndarray

    def __len__(self) -> int:
        return len(self.diameters)

    @staticmethod
    def concat(parts: list[Placement]) -> Placement:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Placement(np.zeros((0, 2)), np.zeros(0))
        return Placement(
            np.concatenate([p.centers for p in parts]), np.concatenate([p.diameters for p in parts])
        )


def target_count(canvas: tuple[int, int], sizes: SizeDistribution, coverage: float) -> int:
    return max(1, round(coverage * canvas[0] * canvas[1] / sizes.mean_area))


def uniform_points(rng: np.random.Generator, canvas: tuple[int, int], n: int) -> np.ndarray:
    return rng.random((n, 2)) * np.asarray(canvas, dtype=float)


def in_canvas(centers: np.ndarray, canvas: tuple[int, int], margin: float) -> np.ndarray:
    y, x = centers[:, 0], centers[:, 1]
    return (y > -margin) & (y < canvas[0] + margin) & (x > -margin) & (x < canvas[1] + margin)


def rng_range(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def hard_core_thinning(centers: np.ndarray, diameters: np.ndarray, gap: float) -> np.ndarray:
    """Matérn type-II thinning: indices of points with no earlier point closer than the hard core.

    Two particles conflict when their centre distance is below (d_i + d_j) / 2 * (1 + gap); the
    later one (higher index, i.e. the mark) is removed. Returns the surviving indices in order.
    """
    if len(centers) < 2:
        return np.arange(len(centers))
    reach = float(diameters.max()) * (1.0 + gap)
    pairs = cKDTree(centers).query_pairs(reach, output_type="ndarray")
    keep = np.ones(len(centers), dtype=bool)
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        dist = np.linalg.norm(centers[i] - centers[j], axis=1)
        conflict = dist < (diameters[i] + diameters[j]) / 2.0 * (1.0 + gap)
        keep[np.maximum(i, j)[conflict]] = False
    return np.flatnonzero(keep)


def grow_groups(
    canvas: tuple[int, int], n_target: int, make_group: Callable[[], Placement]
) -> Placement:
    """Add groups (rings, chains, clusters) until ``n_target`` particles lie on the canvas.

    Gives up after 10 * n_target + 10 groups, so groups that keep missing a tiny canvas cannot
    loop forever.
    """
    parts, on_canvas = [], 0
    for _ in range(10 * n_target + 10):
        if on_canvas >= n_target:
            break
        group = crop(make_group(), canvas)
        parts.append(group)
        on_canvas += len(group)
    return Placement.concat(parts)


def crop(placement: Placement, canvas: tuple[int, int]) -> Placement:
    """Drop particles whose centre lies more than one radius outside the canvas."""
    if not len(placement):
        return placement
    margin = placement.diameters / 2.0
    y, x = placement.centers[:, 0], placement.centers[:, 1]
    keep = (y > -margin) & (y < canvas[0] + margin) & (x > -margin) & (x < canvas[1] + margin)
    return Placement(placement.centers[keep], placement.diameters[keep])
