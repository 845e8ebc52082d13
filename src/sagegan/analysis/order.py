"""Spatial order of particle centroids, always set against complete spatial randomness (CSR).

Points are (x, y) rows in any length unit inside a `Window` [0, width] x [0, height] in the same
unit; every returned length is in that unit. `order_metrics` measures a pattern and the same
quantities on CSR patterns (the same number of uniform points in the same window), and reports
z-scores: how many reference standard deviations the observed value lies from the CSR mean.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from sagegan.analysis.point_pattern import (
    Window,
    nearest_neighbour_distances,
    points_in_window,
    triangulate,
)
from sagegan.analysis.point_statistics import (
    bin_edges,
    bond_order_psi6,
    clark_evans,
    clark_evans_of,
    pair_correlation,
    pair_correlation_in_bins,
    psi6_of,
)
from sagegan.analysis.rings import (
    RingStats,
    check_ring_options,
    ring_statistics,
    ring_statistics_of,
)
from sagegan.errors import ConfigError

__all__ = [
    "OrderReport",
    "RingStats",
    "ScalarComparison",
    "Window",
    "bond_order_psi6",
    "clark_evans",
    "nearest_neighbour_distances",
    "order_metrics",
    "pair_correlation",
    "ring_statistics",
]

COMPARED_SCALARS = (
    "nnd_mean",
    "nnd_sd",
    "clark_evans",
    "psi6_mean",
    "ring_density",
    "mean_ring_size",
    "ring_particle_fraction",
    "largest_cluster_fraction",
    "g_peak",
    "g_peak_r",
)


@dataclass(frozen=True)
class ScalarComparison:
    """One quantity of the observed pattern set against its CSR reference patterns."""

    observed: float
    reference_mean: float
    reference_sd: float
    z: float  # (observed - reference_mean) / reference_sd; NaN when undefined or sd == 0
    reference_defined: int  # reference patterns where the quantity is defined (e.g. has rings)


@dataclass(frozen=True)
class OrderReport:
    """Spatial order of one pattern against CSR; `metrics` holds the `COMPARED_SCALARS`."""

    n: int
    window: Window
    density: float  # particles per unit area
    metrics: dict[str, ScalarComparison]
    r: np.ndarray  # distance bin centres of g(r)
    g: np.ndarray
    g_reference_mean: np.ndarray
    g_reference_low: np.ndarray  # 2.5 % point of the CSR patterns' g in each bin
    g_reference_high: np.ndarray  # 97.5 % point
    rings: RingStats
    r_max: float
    cutoff_factor: float
    min_ring_size: int
    n_reference: int
    seed: int
    notes: tuple[str, ...]  # why some quantities are undefined

    @property
    def reference(self) -> str:
        return (
            f"complete spatial randomness: {self.n} uniform points in the same window, "
            f"{self.n_reference} patterns"
        )

    def to_dict(self) -> dict:
        """JSON-ready plain dict: floats and lists, NaN as None."""
        return _plain(
            {
                "n": self.n,
                "window": {"width": self.window.width, "height": self.window.height},
                "density": self.density,
                "reference": self.reference,
                "n_reference": self.n_reference,
                "seed": self.seed,
                "metrics": {name: asdict(value) for name, value in self.metrics.items()},
                "pair_correlation": {
                    "r": self.r,
                    "observed": self.g,
                    "reference_mean": self.g_reference_mean,
                    "reference_low_2.5": self.g_reference_low,
                    "reference_high_97.5": self.g_reference_high,
                },
                "rings": asdict(self.rings),
                "r_max": self.r_max,
                "cutoff_factor": self.cutoff_factor,
                "min_ring_size": self.min_ring_size,
                "notes": list(self.notes),
            }
        )


def check_order_options(n_reference: int, cutoff_factor: float, min_ring_size: int) -> None:
    """Raise ConfigError for fewer than 2 reference patterns or bad ring options."""
    check_ring_options(cutoff_factor, min_ring_size)
    if isinstance(n_reference, bool) or not isinstance(n_reference, int) or n_reference < 2:
        raise ConfigError(f"n_reference must be an integer >= 2, got {n_reference!r}")


def order_metrics(
    points: np.ndarray,
    window: Window,
    n_reference: int = 50,
    seed: int = 0,
    r_max: float | None = None,
    n_bins: int = 50,
    cutoff_factor: float = 1.5,
    min_ring_size: int = 5,
) -> OrderReport:
    """Nearest-neighbour, Clark-Evans, psi6, ring, cluster and g(r) measures of ``points``, each
    against ``n_reference`` CSR patterns drawn with ``np.random.default_rng(seed)``.

    ``r_max`` defaults to min(width, height)/4, capped at 10 median nearest-neighbour distances.
    Sparse or degenerate patterns never raise: the quantities they lack are NaN, and `notes` says
    why.
    """
    array = points_in_window(points, window)
    check_order_options(n_reference, cutoff_factor, min_ring_size)
    n = len(array)
    r_max = default_r_max(array, window) if r_max is None else r_max
    edges = bin_edges(window, r_max, n_bins)

    observed = _measure(array, window, edges, cutoff_factor, min_ring_size)
    rng = np.random.default_rng(seed)
    size = np.array([window.width, window.height])
    references = [
        _measure(rng.uniform(size=(n, 2)) * size, window, edges, cutoff_factor, min_ring_size)
        for _ in range(n_reference)
    ]
    metrics = {
        name: _compare(observed.scalars[name], np.array([ref.scalars[name] for ref in references]))
        for name in COMPARED_SCALARS
    }
    reference_g = np.array([ref.g for ref in references])
    if n >= 2:
        low, high = np.percentile(reference_g, [2.5, 97.5], axis=0)
        reference_mean = reference_g.mean(axis=0)
    else:
        low = high = reference_mean = np.full(n_bins, np.nan)
    return OrderReport(
        n=n,
        window=window,
        density=n / window.area,
        metrics=metrics,
        r=(edges[:-1] + edges[1:]) / 2,
        g=observed.g,
        g_reference_mean=reference_mean,
        g_reference_low=low,
        g_reference_high=high,
        rings=observed.rings,
        r_max=float(r_max),
        cutoff_factor=cutoff_factor,
        min_ring_size=min_ring_size,
        n_reference=n_reference,
        seed=seed,
        notes=tuple(observed.notes),
    )


def default_r_max(points: np.ndarray, window: Window) -> float:
    """min(width, height)/4, capped at 10 median nearest-neighbour distances when they are > 0."""
    r_max = min(window.width, window.height) / 4
    if len(points) >= 2:
        median_nnd = float(np.median(nearest_neighbour_distances(points)))
        if median_nnd > 0:
            r_max = min(r_max, 10 * median_nnd)
    return float(r_max)


class _Measurement(NamedTuple):
    scalars: dict[str, float]  # the COMPARED_SCALARS
    g: np.ndarray
    rings: RingStats
    notes: list[str]


def _measure(
    points: np.ndarray, window: Window, edges: np.ndarray, cutoff_factor: float, min_ring_size: int
) -> _Measurement:
    """The compared scalars, g(r), ring statistics and notes of one validated pattern."""
    n = len(points)
    notes = []
    nnd = nearest_neighbour_distances(points)
    if n < 2:
        notes.append(
            f"{n} particle(s): nearest-neighbour distances, Clark-Evans R and g(r) are undefined"
        )
    triangulation = triangulate(points)
    if triangulation is None:
        reason = "fewer than 3 particles" if n < 3 else "all particles lie on one line"
        notes.append(
            f"{reason}: no Delaunay triangulation, so psi6, rings and clusters are undefined"
        )
    psi6 = psi6_of(triangulation, points, window)
    reliable_psi6 = psi6[np.isfinite(psi6)]
    if triangulation is not None and not len(reliable_psi6):
        notes.append("no particle has its Voronoi cell inside the window: psi6_mean is undefined")
    rings = ring_statistics_of(triangulation, points, window, nnd, cutoff_factor, min_ring_size)
    if rings.ring_count == 0:
        notes.append("no rings: mean_ring_size is undefined")
    g = pair_correlation_in_bins(points, window, edges)
    peak = int(np.argmax(g)) if n >= 2 else None
    scalars = {
        "nnd_mean": float(nnd.mean()) if n >= 2 else math.nan,
        "nnd_sd": float(nnd.std(ddof=1)) if n >= 2 else math.nan,
        "clark_evans": clark_evans_of(nnd, window),
        "psi6_mean": float(reliable_psi6.mean()) if len(reliable_psi6) else math.nan,
        "ring_density": rings.ring_density,
        "mean_ring_size": rings.mean_ring_size,
        "ring_particle_fraction": rings.ring_particle_fraction,
        "largest_cluster_fraction": rings.largest_cluster_fraction,
        "g_peak": float(g[peak]) if peak is not None else math.nan,
        "g_peak_r": float(edges[peak] + edges[peak + 1]) / 2 if peak is not None else math.nan,
    }
    return _Measurement(scalars, g, rings, notes)


def _compare(observed: float, reference: np.ndarray) -> ScalarComparison:
    defined = reference[np.isfinite(reference)]
    mean = float(defined.mean()) if len(defined) else math.nan
    sd = float(defined.std(ddof=1)) if len(defined) >= 2 else math.nan
    z = (observed - mean) / sd if sd > 0 and math.isfinite(observed) else math.nan
    return ScalarComparison(observed, mean, sd, z, len(defined))


def _plain(value: object) -> object:
    """``value`` with numpy arrays and scalars turned into lists, floats and ints; NaN -> None."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value
