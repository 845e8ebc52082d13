"""Ordered layouts: loop networks, ring arcs and hexagonal domains with their lattice helpers.

Each layout follows the signature and units of :mod:`sagegan.synth.layouts`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage
from scipy.spatial import Voronoi, cKDTree

from sagegan.synth.placement import (
    Placement,
    SizeDistribution,
    crop,
    grow_groups,
    hard_core_thinning,
    in_canvas,
    rng_range,
    target_count,
    uniform_points,
)

HEX_PACKING = math.pi / (2.0 * math.sqrt(3.0))  # area fraction of touching equal discs


def _points_along(
    rng: np.random.Generator,
    sizes: SizeDistribution,
    length: float,
    gap: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Arc-length positions and diameters of particles strung along a path of the given length."""
    n_max = int(length / (sizes.median_px * 0.25)) + 2
    diameters = sizes.sample(rng, n_max)
    gaps = rng.uniform(gap[0], gap[1], n_max)
    steps = (diameters + np.roll(diameters, 1)) / 2.0 * (1.0 + gaps)
    positions = rng.uniform(0.0, steps[0]) + np.concatenate([[0.0], np.cumsum(steps[1:])])
    inside = positions < length
    return positions[inside], diameters[inside]


def _with_doublets(
    rng: np.random.Generator, placement: Placement, sizes: SizeDistribution, probability: float
) -> Placement:
    """Give a random ``probability`` share of particles a touching partner at a random angle."""
    chosen = np.flatnonzero(rng.random(len(placement)) < probability)
    if not len(chosen):
        return placement
    diameters = sizes.sample(rng, len(chosen))
    reach = (placement.diameters[chosen] + diameters) / 2.0 * rng.uniform(0.85, 1.05, len(chosen))
    angle = rng.uniform(0.0, 2.0 * np.pi, len(chosen))
    offset = reach[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    return Placement.concat([placement, Placement(placement.centers[chosen] + offset, diameters)])


def loop_network(
    rng: np.random.Generator,
    canvas: tuple[int, int],
    sizes: SizeDistribution,
    coverage: float,
    *,
    gap: tuple[float, float] = (0.1, 1.4),
    edge_keep: float = 0.85,
    bow: float = 0.25,
    jitter: float = 0.25,
    doublets: float = 0.15,
    min_cell: float = 4.0,
) -> Placement:
    """Particles strung along the edges of a random Voronoi network of closed loops (Pd/C-like).

    gap: range of free space between neighbours along a loop (fraction of diameter);
    edge_keep: fraction of cell edges that carry particles (the rest leave loops open);
    bow: maximum sideways bowing of an edge as a fraction of its length (rounds the cells);
    jitter: sideways scatter of particles off the edge (fraction of diameter);
    doublets: probability that a particle has a touching partner next to it;
    min_cell: smallest allowed mean cell spacing (in diameters) when coverage is high.
    """
    spacing = sizes.mean_diameter * (1.0 + sum(gap) / 2.0)
    # Poisson-Voronoi edge length per area is 2 sqrt(lambda): solve coverage for the seed density.
    sqrt_density = coverage * spacing / (2.0 * edge_keep * sizes.mean_area)
    cell = max(1.0 / sqrt_density, min_cell * sizes.mean_diameter)
    height, width = canvas[0] + 2 * cell, canvas[1] + 2 * cell
    n_seeds = max(4, rng.poisson(height * width / cell**2))
    seeds = rng.random((n_seeds, 2)) * (height, width) - cell
    vor = Voronoi(seeds)
    parts = []
    for v0, v1 in vor.ridge_vertices:
        if v0 < 0 or v1 < 0 or rng.random() > edge_keep:
            continue
        start, end = vor.vertices[v0], vor.vertices[v1]
        if not in_canvas(np.array([start, end]), canvas, 1.5 * cell).all():
            continue
        direction = end - start
        length = float(np.hypot(*direction))
        if length < sizes.median_px:
            continue
        along, diameters = _points_along(rng, sizes, length, gap)
        t = along / length
        normal = np.array([-direction[1], direction[0]]) / length
        offset = rng.uniform(-bow, bow) * length * np.sin(np.pi * t)
        offset += rng.standard_normal(len(t)) * jitter * diameters
        centers = start + t[:, None] * direction + offset[:, None] * normal
        parts.append(Placement(centers, diameters))
    placement = _with_doublets(rng, Placement.concat(parts), sizes, doublets)
    return crop(placement, canvas)


def ring_arcs(
    rng: np.random.Generator,
    canvas: tuple[int, int],
    sizes: SizeDistribution,
    coverage: float,
    *,
    radius: tuple[float, float] = (2.5, 10.0),
    arc: tuple[float, float] = (0.4, 1.0),
    gap: tuple[float, float] = (0.1, 1.0),
    jitter: float = 0.2,
    doublets: float = 0.1,
) -> Placement:
    """Particles on circular rings and ring arcs with random centres.

    radius: ring radius range (diameters); arc: fraction of the full circle that is populated;
    gap: free space between neighbours (fraction of diameter); jitter: radial scatter
    (diameters); doublets: probability that a particle has a touching partner next to it.
    """

    def ring() -> Placement:
        centre = uniform_points(rng, canvas, 1)[0]
        ring_radius = rng_range(rng, radius) * sizes.median_px
        circumference = 2.0 * math.pi * ring_radius * rng_range(rng, arc)
        along, diameters = _points_along(rng, sizes, circumference, gap)
        angles = rng.uniform(0.0, 2.0 * math.pi) + along / ring_radius
        radii = ring_radius + rng.standard_normal(len(along)) * jitter * diameters
        centers = centre + radii[:, None] * np.stack([np.sin(angles), np.cos(angles)], axis=1)
        return Placement(centers, diameters)

    placement = grow_groups(canvas, target_count(canvas, sizes, coverage), ring)
    return crop(_with_doublets(rng, placement, sizes, doublets), canvas)


def _edge_dislocation(points: np.ndarray, core: np.ndarray, burgers: np.ndarray) -> np.ndarray:
    """Displacement of an isotropic edge dislocation (Poisson ratio 0.3) at the given points."""
    nu = 0.3
    b = float(np.hypot(*burgers))
    ex = burgers / b
    ey = np.array([-ex[1], ex[0]])
    rel = points - core
    x, y = rel @ ex, rel @ ey
    r2 = np.maximum(x * x + y * y, (0.25 * b) ** 2)
    theta = np.arctan2(y, x)
    ux = b / (2 * np.pi) * (theta + x * y / (2 * (1 - nu) * r2))
    uy = (
        -b
        / (2 * np.pi)
        * (
            (1 - 2 * nu) / (4 * (1 - nu)) * np.log(r2 / b**2)
            + (x * x - y * y) / (4 * (1 - nu) * r2)
        )
    )
    return ux[:, None] * ex + uy[:, None] * ey


def _island_mask(
    rng: np.random.Generator, canvas: tuple[int, int], fraction: float, scale: float
) -> Callable[[np.ndarray], np.ndarray]:
    """A predicate on (N, 2) points that is true on random smooth islands covering ``fraction``."""
    if fraction >= 0.98:
        return lambda points: np.ones(len(points), dtype=bool)
    cells = (max(2, int(canvas[0] / scale) + 1), max(2, int(canvas[1] / scale) + 1))
    field = ndimage.gaussian_filter(rng.standard_normal(cells), 1.5, mode="wrap")
    islands = field > np.quantile(field, 1.0 - fraction)

    def inside(points: np.ndarray) -> np.ndarray:
        iy = np.clip((points[:, 0] / scale).astype(int), 0, cells[0] - 1)
        ix = np.clip((points[:, 1] / scale).astype(int), 0, cells[1] - 1)
        return islands[iy, ix]

    return inside


def _lattice_sites(basis: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Points i * basis[0] + j * basis[1] (integers i, j) inside the box [low, high]."""
    corners = np.array([[low[0], low[1]], [low[0], high[1]], [high[0], low[1]], [high[0], high[1]]])
    coords = np.linalg.solve(basis.T, corners.T).T
    lo, hi = np.floor(coords.min(axis=0)), np.ceil(coords.max(axis=0))
    i, j = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
    sites = i.reshape(-1, 1) * basis[0] + j.reshape(-1, 1) * basis[1]
    inside = np.all((sites >= low) & (sites <= high), axis=1)
    return sites[inside]


def hexagonal_domains(
    rng: np.random.Generator,
    canvas: tuple[int, int],
    sizes: SizeDistribution,
    coverage: float,
    *,
    gap: tuple[float, float] = (0.05, 0.2),
    domain_size: tuple[float, float] = (8.0, 25.0),
    vacancy: float = 0.03,
    dislocations: float = 0.5,
    jitter: float = 0.04,
    size_spread: float = 0.3,
) -> Placement:
    """Hexagonal close-packed domains (random rotation each) with vacancies and dislocations.

    gap: free space between lattice neighbours (fraction of diameter); domain_size: typical domain
    radius in lattice spacings; vacancy: probability that a site is empty; dislocations: mean
    number of edge dislocations per domain; jitter: random site displacement (lattice spacings);
    size_spread: log-normal sigma of diameters relative to ``sizes.sigma`` (packing needs narrow
    sizes). When coverage is below the packing fraction the lattice fills random islands.
    """
    spacing = sizes.median_px * (1.0 + rng_range(rng, gap))
    packing = HEX_PACKING * (sizes.median_px / spacing) ** 2
    inside_islands = _island_mask(rng, canvas, min(1.0, coverage / packing), 3.0 * spacing)
    radius = rng_range(rng, domain_size) * spacing
    n_domains = max(1, rng.poisson(canvas[0] * canvas[1] / (math.pi * radius**2)))
    seeds = uniform_points(rng, canvas, n_domains)
    grid = np.stack(
        np.meshgrid(
            np.arange(-spacing, canvas[0] + 2 * spacing, spacing),
            np.arange(-spacing, canvas[1] + 2 * spacing, spacing),
            indexing="ij",
        ),
        axis=-1,
    ).reshape(-1, 2)
    grid_owner = cKDTree(seeds).query(grid)[1]
    parts = []
    for domain in range(n_domains):
        region = grid[grid_owner == domain]
        if not len(region):
            continue
        angle = rng.uniform(0.0, math.pi / 3.0)
        basis = spacing * np.array(
            [
                [math.sin(angle), math.cos(angle)],
                [math.sin(angle + math.pi / 3), math.cos(angle + math.pi / 3)],
            ]
        )
        sites = _lattice_sites(basis, region.min(axis=0) - spacing, region.max(axis=0) + spacing)
        sites = sites + rng.random() * basis[0] + rng.random() * basis[1]
        for _ in range(rng.poisson(dislocations)):
            core = sites[rng.integers(len(sites))] + basis.sum(axis=0) / 3.0
            burgers = basis[rng.integers(2)] * rng.choice([-1.0, 1.0])
            sites = sites + _edge_dislocation(sites, core, burgers)
        sites = sites[in_canvas(sites, canvas, spacing)]
        if n_domains > 1:
            sites = sites[cKDTree(seeds).query(sites)[1] == domain]
        parts.append(sites)
    centers = np.concatenate(parts)
    centers = centers[inside_islands(centers) & (rng.random(len(centers)) >= vacancy)]
    centers = centers[rng.permutation(len(centers))]
    centers = centers + rng.standard_normal(centers.shape) * jitter * spacing
    diameters = np.minimum(sizes.sample(rng, len(centers), size_spread), spacing)
    keep = hard_core_thinning(centers, np.full(len(centers), spacing), -0.3)
    return crop(Placement(centers[keep], diameters[keep]), canvas)
