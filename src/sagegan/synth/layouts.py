"""Spatial layouts of particle centres and diameters on an H x W canvas.

Every layout function has the signature ``layout(rng, canvas, sizes, coverage, **options)`` and
returns a :class:`Placement` (centres in pixels as (y, x), equivalent-circle diameters in pixels).
``coverage`` is the target fraction of the canvas covered by particles; the layouts reach it
approximately (overlaps, vacancies and thinning remove some particles). Lengths in options are in
units of the median particle diameter. Centres may lie slightly outside the canvas: particles cut
by the image border are realistic, and the rasteriser clips them.

This module holds the disordered layouts (random dispersion, chains, clusters) and the
:data:`LAYOUTS` registry; the ordered ones live in :mod:`sagegan.synth.ordered_layouts` and the
shared primitives in :mod:`sagegan.synth.placement`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sagegan.synth.ordered_layouts import hexagonal_domains, loop_network, ring_arcs
from sagegan.synth.placement import (
    Placement,
    SizeDistribution,
    grow_groups,
    hard_core_thinning,
    rng_range,
    target_count,
    uniform_points,
)

__all__ = [
    "LAYOUTS",
    "Placement",
    "SizeDistribution",
    "chains",
    "clusters",
    "hard_core_thinning",
    "hexagonal_domains",
    "loop_network",
    "random_dispersion",
    "ring_arcs",
]


def random_dispersion(
    rng: np.random.Generator,
    canvas: tuple[int, int],
    sizes: SizeDistribution,
    coverage: float,
    *,
    hard_core: bool = True,
    gap: float = 0.1,
) -> Placement:
    """Random dispersion: Poisson points, or hard-core (Matérn II) points when ``hard_core``.

    gap: minimum free space between hard-core particles as a fraction of their mean diameter.
    """
    n = target_count(canvas, sizes, coverage)
    n_candidates = 3 * n if hard_core else n
    centers = uniform_points(rng, canvas, n_candidates)
    diameters = sizes.sample(rng, n_candidates)
    keep = hard_core_thinning(centers, diameters, gap)[:n] if hard_core else np.arange(n)
    return Placement(centers[keep], diameters[keep])


def chains(
    rng: np.random.Generator,
    canvas: tuple[int, int],
    sizes: SizeDistribution,
    coverage: float,
    *,
    length: tuple[float, float] = (4.0, 30.0),
    gap: tuple[float, float] = (-0.1, 0.3),
    persistence: float = 0.3,
    branching: float = 0.05,
) -> Placement:
    """Chains of particles grown as persistent random walks that occasionally branch.

    length: range of particles per chain (log-uniform); gap: free space between neighbours
    (fraction of diameter, negative means slight overlap); persistence: standard deviation of
    the turning angle per step in radians; branching: probability per step of a side branch.
    """
    log_length = np.log(length)

    def chain() -> Placement:
        centers: list[tuple[float, float]] = []
        diameters: list[float] = []
        start = uniform_points(rng, canvas, 1)[0]
        n_main = round(math.exp(rng.uniform(*log_length)))
        walks = [(float(start[0]), float(start[1]), rng.uniform(0, 2 * math.pi), 0.0, n_main)]
        while walks:
            y, x, heading, previous, n_steps = walks.pop()
            for _ in range(n_steps):
                d = float(sizes.sample(rng, 1)[0])
                if previous > 0:
                    step = (d + previous) / 2.0 * (1.0 + rng_range(rng, gap))
                    heading += rng.normal(0.0, persistence)
                    y, x = y + step * math.sin(heading), x + step * math.cos(heading)
                centers.append((y, x))
                diameters.append(d)
                previous = d
                if n_steps >= 3 and rng.random() < branching:
                    side = heading + rng.choice([-1.0, 1.0]) * math.pi / 3.0
                    walks.append((y, x, side, d, n_steps // 3))
        return Placement(np.array(centers), np.array(diameters))

    return grow_groups(canvas, target_count(canvas, sizes, coverage), chain)


def clusters(
    rng: np.random.Generator,
    canvas: tuple[int, int],
    sizes: SizeDistribution,
    coverage: float,
    *,
    members: tuple[float, float] = (2.0, 25.0),
    overlap: tuple[float, float] = (0.0, 0.2),
    compactness: float = 0.6,
    attempts: int = 8,
) -> Placement:
    """Agglomerates of touching particles (TiO2-like), grown particle by particle.

    members: range of particles per cluster (log-uniform); overlap: how far a new particle sinks
    into the one it attaches to (fraction of the summed radii); compactness: probability of
    attaching to a random member rather than to the last one (low values give elongated,
    branched agglomerates); attempts: tries per particle to find a spot that does not cut deeper
    than the maximum overlap into any other member.
    """
    log_members = np.log(members)

    def cluster() -> Placement:
        size = round(math.exp(rng.uniform(*log_members)))
        radii = sizes.sample(rng, size) / 2.0
        pos = np.zeros((size, 2))
        pos[0] = uniform_points(rng, canvas, 1)[0]
        placed = 1
        for k in range(1, size):
            for _ in range(attempts):
                anchor = rng.integers(placed) if rng.random() < compactness else placed - 1
                angle = rng.uniform(0.0, 2.0 * math.pi)
                reach = (radii[anchor] + radii[k]) * (1.0 - rng_range(rng, overlap))
                candidate = pos[anchor] + reach * np.array([math.sin(angle), math.cos(angle)])
                dist = np.linalg.norm(pos[:placed] - candidate, axis=1)
                if np.all(dist >= (radii[:placed] + radii[k]) * (1.0 - overlap[1]) - 1e-9):
                    pos[placed], radii[placed] = candidate, radii[k]
                    placed += 1
                    break
        return Placement(pos[:placed], 2.0 * radii[:placed])

    return grow_groups(canvas, target_count(canvas, sizes, coverage), cluster)


LAYOUTS: dict[str, Callable[..., Placement]] = {
    "loops": loop_network,
    "rings": ring_arcs,
    "hexagonal": hexagonal_domains,
    "chains": chains,
    "clusters": clusters,
    "random": random_dispersion,
}
