"""Spatial layouts of particle centres and diameters on an H x W canvas.

Every layout function has the signature ``layout(rng, canvas, sizes, coverage, **options)`` and
returns a :class:`Placement` (centres in pixels as (y, x), equivalent-circle diameters in pixels).
``coverage`` is the target fraction of the canvas covered by particles; the layouts reach it
approximately (overlaps, vacancies and thinning remove some particles). Lengths in options are in
units of the median particle diameter. Centres may lie slightly outside the canvas: particles cut
by the image border are realistic, and the rasteriser clips them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import Voronoi, cKDTree

HEX_PACKING = math.pi / (2.0 * math.sqrt(3.0))  # area fraction of touching equal discs


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


def _target_count(canvas: tuple[int, int], sizes: SizeDistribution, coverage: float) -> int:
    return max(1, round(coverage * canvas[0] * canvas[1] / sizes.mean_area))


def _uniform_points(rng: np.random.Generator, canvas: tuple[int, int], n: int) -> np.ndarray:
    return rng.random((n, 2)) * np.asarray(canvas, dtype=float)


def _in_canvas(centers: np.ndarray, canvas: tuple[int, int], margin: float) -> np.ndarray:
    y, x = centers[:, 0], centers[:, 1]
    return (y > -margin) & (y < canvas[0] + margin) & (x > -margin) & (x < canvas[1] + margin)


def _rng_range(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
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
    n = _target_count(canvas, sizes, coverage)
    n_candidates = 3 * n if hard_core else n
    centers = _uniform_points(rng, canvas, n_candidates)
    diameters = sizes.sample(rng, n_candidates)
    keep = hard_core_thinning(centers, diameters, gap)[:n] if hard_core else np.arange(n)
    return Placement(centers[keep], diameters[keep])


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
        if not _in_canvas(np.array([start, end]), canvas, 1.5 * cell).all():
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
    return _crop(placement, canvas)


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
        centre = _uniform_points(rng, canvas, 1)[0]
        ring_radius = _rng_range(rng, radius) * sizes.median_px
        circumference = 2.0 * math.pi * ring_radius * _rng_range(rng, arc)
        along, diameters = _points_along(rng, sizes, circumference, gap)
        angles = rng.uniform(0.0, 2.0 * math.pi) + along / ring_radius
        radii = ring_radius + rng.standard_normal(len(along)) * jitter * diameters
        centers = centre + radii[:, None] * np.stack([np.sin(angles), np.cos(angles)], axis=1)
        return Placement(centers, diameters)

    placement = _grow_groups(canvas, _target_count(canvas, sizes, coverage), ring)
    return _crop(_with_doublets(rng, placement, sizes, doublets), canvas)


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
    spacing = sizes.median_px * (1.0 + _rng_range(rng, gap))
    packing = HEX_PACKING * (sizes.median_px / spacing) ** 2
    inside_islands = _island_mask(rng, canvas, min(1.0, coverage / packing), 3.0 * spacing)
    radius = _rng_range(rng, domain_size) * spacing
    n_domains = max(1, rng.poisson(canvas[0] * canvas[1] / (math.pi * radius**2)))
    seeds = _uniform_points(rng, canvas, n_domains)
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
        sites = sites[_in_canvas(sites, canvas, spacing)]
        if n_domains > 1:
            sites = sites[cKDTree(seeds).query(sites)[1] == domain]
        parts.append(sites)
    centers = np.concatenate(parts)
    centers = centers[inside_islands(centers) & (rng.random(len(centers)) >= vacancy)]
    centers = centers[rng.permutation(len(centers))]
    centers = centers + rng.standard_normal(centers.shape) * jitter * spacing
    diameters = np.minimum(sizes.sample(rng, len(centers), size_spread), spacing)
    keep = hard_core_thinning(centers, np.full(len(centers), spacing), -0.3)
    return _crop(Placement(centers[keep], diameters[keep]), canvas)


def _grow_groups(
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
        group = _crop(make_group(), canvas)
        parts.append(group)
        on_canvas += len(group)
    return Placement.concat(parts)


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
        start = _uniform_points(rng, canvas, 1)[0]
        n_main = round(math.exp(rng.uniform(*log_length)))
        walks = [(float(start[0]), float(start[1]), rng.uniform(0, 2 * math.pi), 0.0, n_main)]
        while walks:
            y, x, heading, previous, n_steps = walks.pop()
            for _ in range(n_steps):
                d = float(sizes.sample(rng, 1)[0])
                if previous > 0:
                    step = (d + previous) / 2.0 * (1.0 + _rng_range(rng, gap))
                    heading += rng.normal(0.0, persistence)
                    y, x = y + step * math.sin(heading), x + step * math.cos(heading)
                centers.append((y, x))
                diameters.append(d)
                previous = d
                if n_steps >= 3 and rng.random() < branching:
                    side = heading + rng.choice([-1.0, 1.0]) * math.pi / 3.0
                    walks.append((y, x, side, d, n_steps // 3))
        return Placement(np.array(centers), np.array(diameters))

    return _grow_groups(canvas, _target_count(canvas, sizes, coverage), chain)


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
        pos[0] = _uniform_points(rng, canvas, 1)[0]
        placed = 1
        for k in range(1, size):
            for _ in range(attempts):
                anchor = rng.integers(placed) if rng.random() < compactness else placed - 1
                angle = rng.uniform(0.0, 2.0 * math.pi)
                reach = (radii[anchor] + radii[k]) * (1.0 - _rng_range(rng, overlap))
                candidate = pos[anchor] + reach * np.array([math.sin(angle), math.cos(angle)])
                dist = np.linalg.norm(pos[:placed] - candidate, axis=1)
                if np.all(dist >= (radii[:placed] + radii[k]) * (1.0 - overlap[1]) - 1e-9):
                    pos[placed], radii[placed] = candidate, radii[k]
                    placed += 1
                    break
        return Placement(pos[:placed], 2.0 * radii[:placed])

    return _grow_groups(canvas, _target_count(canvas, sizes, coverage), cluster)


def _crop(placement: Placement, canvas: tuple[int, int]) -> Placement:
    """Drop particles whose centre lies more than one radius outside the canvas."""
    if not len(placement):
        return placement
    margin = placement.diameters / 2.0
    y, x = placement.centers[:, 0], placement.centers[:, 1]
    keep = (y > -margin) & (y < canvas[0] + margin) & (x > -margin) & (x < canvas[1] + margin)
    return Placement(placement.centers[keep], placement.diameters[keep])


LAYOUTS: dict[str, Callable[..., Placement]] = {
    "loops": loop_network,
    "rings": ring_arcs,
    "hexagonal": hexagonal_domains,
    "chains": chains,
    "clusters": clusters,
    "random": random_dispersion,
}
