"""Point-pattern statistics: Clark-Evans ratio, pair correlation g(r) and hexatic order psi6.

Points are (x, y) rows in any length unit inside a `Window` [0, width] x [0, height] in the same
unit; every returned length is in that unit. The ``*_of`` / ``*_in_bins`` forms take already
validated points (and a shared triangulation) so that `sagegan.analysis.order` computes each
pattern's geometry once.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import Delaunay, cKDTree

from sagegan.analysis.point_pattern import (
    Window,
    nearest_neighbour_distances,
    points_in_window,
    triangulate,
)
from sagegan.errors import ConfigError


def expected_csr_nnd(n: int, window: Window) -> float:
    """Mean nearest-neighbour distance of n CSR points in a rectangle, with Donnelly's (1978)
    edge correction: 0.5 sqrt(A/n) + (0.0514 + 0.041/sqrt(n)) P/n."""
    return 0.5 * math.sqrt(window.area / n) + (0.0514 + 0.041 / math.sqrt(n)) * window.perimeter / n


def clark_evans(points: np.ndarray, window: Window) -> float:
    """Clark-Evans ratio R = mean nearest-neighbour distance / its CSR expectation (edge-corrected):
    about 1 for CSR, below 1 for clustering, 2.15 for a perfect hexagonal lattice; NaN for N < 2."""
    array = points_in_window(points, window)
    return clark_evans_of(nearest_neighbour_distances(array), window)


def clark_evans_of(nnd: np.ndarray, window: Window) -> float:
    """`clark_evans` from the nearest-neighbour distances of points in ``window``."""
    if len(nnd) < 2:
        return math.nan
    return float(nnd.mean()) / expected_csr_nnd(len(nnd), window)


def bin_edges(window: Window, r_max: float, n_bins: int) -> np.ndarray:
    """n_bins + 1 equal-width distance bin edges from 0 to r_max < min(width, height) / 2."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins!r}")
    limit = min(window.width, window.height) / 2
    if not (math.isfinite(r_max) and 0 < r_max < limit):
        raise ConfigError(
            f"r_max must be > 0 and < min(width, height)/2 = {limit:g}, got {r_max!r}"
        )
    return np.linspace(0.0, r_max, n_bins + 1)


def pair_correlation(
    points: np.ndarray, window: Window, r_max: float, n_bins: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Pair correlation (radial distribution) function: (bin centres r, g(r)).

    Translation (Ohser-Stoyan) edge correction: each pair is weighted by
    1/((W - |dx|)(H - |dy|)); intensity squared estimated as n(n-1)/A^2, so that CSR gives
    g = 1 at every r in expectation. g is NaN for N < 2.
    """
    array = points_in_window(points, window)
    edges = bin_edges(window, r_max, n_bins)
    return (edges[:-1] + edges[1:]) / 2, pair_correlation_in_bins(array, window, edges)


def pair_correlation_in_bins(points: np.ndarray, window: Window, edges: np.ndarray) -> np.ndarray:
    """g(r) of validated points in the equal-width bins of `bin_edges` (see `pair_correlation`)."""
    n = len(points)
    if n < 2:
        return np.full(len(edges) - 1, np.nan)
    pairs = cKDTree(points).query_pairs(edges[-1], output_type="ndarray")
    offsets = np.abs(points[pairs[:, 0]] - points[pairs[:, 1]])
    weights = 1.0 / ((window.width - offsets[:, 0]) * (window.height - offsets[:, 1]))
    # equal-width bins given by count and range take numpy's fast path (no sorting)
    weighted_counts, _ = np.histogram(
        np.hypot(*offsets.T), bins=len(edges) - 1, range=(0.0, edges[-1]), weights=weights
    )
    shell_areas = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    # every unordered pair stands for two ordered pairs
    return 2 * weighted_counts * window.area**2 / (n * (n - 1) * shell_areas)


def bond_order_psi6(points: np.ndarray, window: Window) -> np.ndarray:
    """Hexatic bond order |psi6| of every point, shape (N,): |mean_j exp(6 i theta_ij)| over its
    Delaunay neighbours j; 1 in a perfect hexagonal lattice, about 0.3-0.4 under CSR.

    Points near the edge are unreliable (their neighbours outside the window are missing), so
    they get NaN: every point whose Voronoi cell is unbounded or reaches outside the window. All
    values are NaN when the points have no triangulation (fewer than 3, or all on one line).
    """
    array = points_in_window(points, window)
    return psi6_of(triangulate(array), array, window)


def psi6_of(triangulation: Delaunay | None, points: np.ndarray, window: Window) -> np.ndarray:
    """`bond_order_psi6` of validated points from their triangulation (None when there is none)."""
    n = len(points)
    if triangulation is None:
        return np.full(n, np.nan)
    indptr, neighbours = triangulation.vertex_neighbor_vertices
    degree = np.diff(indptr)
    owner = np.repeat(np.arange(n), degree)
    bond = points[neighbours] - points[owner]
    angle = 6 * np.arctan2(bond[:, 1], bond[:, 0])
    real = np.bincount(owner, np.cos(angle), minlength=n)
    imaginary = np.bincount(owner, np.sin(angle), minlength=n)
    psi6 = np.full(n, np.nan)
    reliable = _voronoi_cell_inside(triangulation, points, window) & (degree > 0)
    psi6[reliable] = np.hypot(real[reliable], imaginary[reliable]) / degree[reliable]
    return psi6


def _voronoi_cell_inside(triangulation: Delaunay, points: np.ndarray, window: Window) -> np.ndarray:
    """Whether each point's Voronoi cell is bounded and inside the window. The cell's vertices
    are the circumcentres of the Delaunay triangles around the point; it is unbounded exactly
    for points on the convex hull."""
    corners = points[triangulation.simplices]
    b = corners[:, 1] - corners[:, 0]
    c = corners[:, 2] - corners[:, 0]
    b2 = (b**2).sum(axis=1)
    c2 = (c**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = 2 * (b[:, 0] * c[:, 1] - b[:, 1] * c[:, 0])
        centre_x = corners[:, 0, 0] + (c[:, 1] * b2 - b[:, 1] * c2) / denominator
        centre_y = corners[:, 0, 1] + (b[:, 0] * c2 - c[:, 0] * b2) / denominator
    centre_inside = (
        (centre_x >= 0) & (centre_x <= window.width) & (centre_y >= 0) & (centre_y <= window.height)
    )
    inside = np.ones(len(points), dtype=bool)
    inside[triangulation.simplices[~centre_inside].ravel()] = False
    inside[triangulation.convex_hull.ravel()] = False
    return inside
