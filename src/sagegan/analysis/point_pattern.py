"""Point patterns in a rectangular window: validation, nearest neighbours, triangulation.

Points are (x, y) rows in any length unit, inside the window [0, width] x [0, height] given in
the same unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import Delaunay, QhullError, cKDTree

from sagegan.errors import ConfigError


@dataclass(frozen=True)
class Window:
    """The rectangle [0, width] x [0, height] that the particles were observed in."""

    width: float
    height: float

    def __post_init__(self) -> None:
        for name, value in (("width", self.width), ("height", self.height)):
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
                raise ConfigError(f"window {name} must be a positive finite number, got {value!r}")

    @property
    def area(self) -> float:
        return float(self.width * self.height)

    @property
    def perimeter(self) -> float:
        return float(2 * (self.width + self.height))


def as_point_array(points: np.ndarray) -> np.ndarray:
    """``points`` as a finite float array of shape (N, 2); an empty input gives shape (0, 2)."""
    array = np.asarray(points, dtype=float)
    if array.size == 0:
        return np.empty((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise ConfigError(f"points must have shape (N, 2), got {array.shape}")
    if not np.isfinite(array).all():
        raise ConfigError("points contain NaN or infinite coordinates")
    return array


def points_in_window(points: np.ndarray, window: Window) -> np.ndarray:
    """``points`` as an (N, 2) float array, checked to lie inside ``window``."""
    array = as_point_array(points)
    outside = (
        (array[:, 0] < 0)
        | (array[:, 0] > window.width)
        | (array[:, 1] < 0)
        | (array[:, 1] > window.height)
    )
    if outside.any():
        raise ConfigError(
            f"{int(outside.sum())} of {len(array)} points lie outside the window "
            f"[0, {window.width}] x [0, {window.height}]"
        )
    return array


def nearest_neighbour_distances(points: np.ndarray) -> np.ndarray:
    """Distance of every point to its nearest other point, shape (N,); NaN when N < 2."""
    array = as_point_array(points)
    if len(array) < 2:
        return np.full(len(array), np.nan)
    distances, _ = cKDTree(array).query(array, k=2)
    return distances[:, 1]


def triangulate(points: np.ndarray) -> Delaunay | None:
    """Delaunay triangulation of (N, 2) points, or None when they span no area
    (fewer than 3 points, or all on one line)."""
    if len(points) < 3:
        return None
    try:
        return Delaunay(points)
    except QhullError:
        return None
