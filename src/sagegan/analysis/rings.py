"""Rings (closed loops of particles around an empty region) and clusters of particles.

The proximity graph joins two particles when they are Delaunay neighbours closer than
``cutoff_factor`` times the median nearest-neighbour distance; it is planar. Its faces are unions
of Delaunay triangles joined across the removed (long) edges. A face is enclosed when none of its
triangles has a removed convex-hull edge, i.e. it does not open to the outside of the pattern.
An enclosed face with at least ``min_ring_size`` distinct particles on its boundary is a ring: a
loop of particles around an empty region, as in Pd/C samples. Clusters are the connected
components of the proximity graph; an isolated particle is a cluster of one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay

from sagegan.analysis.point_pattern import (
    Window,
    nearest_neighbour_distances,
    points_in_window,
    triangulate,
)
from sagegan.errors import ConfigError


@dataclass(frozen=True)
class RingStats:
    """Ring and cluster statistics of one pattern. Counts are whole numbers; every field is NaN
    when the particles have no triangulation (fewer than 3, or all on one line), except
    ``cutoff``, which needs only 2 particles."""

    ring_count: float
    ring_density: float  # rings per unit area
    mean_ring_size: float  # boundary particles per ring; NaN without rings
    ring_particle_fraction: float  # fraction of particles on at least one ring
    cluster_count: float
    largest_cluster_fraction: float
    mean_cluster_size: float  # particles
    cutoff: float  # longest distance (exclusive) of a proximity-graph edge, in the points' unit


def check_ring_options(cutoff_factor: float, min_ring_size: int) -> None:
    """Raise ConfigError for a non-positive cutoff factor or a ring size below 3."""
    if not (math.isfinite(cutoff_factor) and cutoff_factor > 0):
        raise ConfigError(f"cutoff_factor must be a positive number, got {cutoff_factor!r}")
    if isinstance(min_ring_size, bool) or not isinstance(min_ring_size, int) or min_ring_size < 3:
        raise ConfigError(f"min_ring_size must be an integer >= 3, got {min_ring_size!r}")


def ring_statistics(
    points: np.ndarray, window: Window, cutoff_factor: float = 1.5, min_ring_size: int = 5
) -> RingStats:
    """Rings and clusters of the proximity graph of ``points`` (see the module docstring)."""
    check_ring_options(cutoff_factor, min_ring_size)
    array = points_in_window(points, window)
    nnd = nearest_neighbour_distances(array)
    return ring_statistics_of(triangulate(array), array, window, nnd, cutoff_factor, min_ring_size)


def ring_statistics_of(
    triangulation: Delaunay | None,
    points: np.ndarray,
    window: Window,
    nnd: np.ndarray,
    cutoff_factor: float,
    min_ring_size: int,
) -> RingStats:
    """`ring_statistics` from an existing triangulation (None when there is none) and the
    nearest-neighbour distances of already validated points."""
    n = len(points)
    cutoff = cutoff_factor * float(np.median(nnd)) if n >= 2 else math.nan
    if triangulation is None:
        return RingStats(*[math.nan] * 7, cutoff=cutoff)

    # the edge opposite vertex k of a triangle joins its vertices k+1 and k+2 (mod 3)
    simplices = triangulation.simplices
    ends_a = simplices[:, [1, 2, 0]]
    ends_b = simplices[:, [2, 0, 1]]
    kept = np.linalg.norm(points[ends_a] - points[ends_b], axis=-1) < cutoff
    neighbours = triangulation.neighbors

    face = _faces(neighbours, kept)
    n_faces = int(face.max()) + 1
    open_face = np.zeros(n_faces, dtype=bool)
    open_face[face[np.nonzero(~kept & (neighbours < 0))[0]]] = True

    triangle, side = np.nonzero(kept)
    boundary_faces = np.concatenate([face[triangle], face[triangle]])
    boundary_particles = np.concatenate([ends_a[triangle, side], ends_b[triangle, side]])
    face_particle = np.unique(boundary_faces.astype(np.int64) * n + boundary_particles)
    pair_face, pair_particle = np.divmod(face_particle, n)
    boundary_size = np.bincount(pair_face, minlength=n_faces)
    is_ring = ~open_face & (boundary_size >= min_ring_size)
    ring_count = int(is_ring.sum())
    on_ring = np.unique(pair_particle[is_ring[pair_face]])

    edges = coo_matrix(
        (np.ones(len(triangle)), (ends_a[triangle, side], ends_b[triangle, side])), shape=(n, n)
    )
    cluster_count, cluster = connected_components(edges, directed=False)
    return RingStats(
        ring_count=ring_count,
        ring_density=ring_count / window.area,
        mean_ring_size=float(boundary_size[is_ring].mean()) if ring_count else math.nan,
        ring_particle_fraction=len(on_ring) / n,
        cluster_count=int(cluster_count),
        largest_cluster_fraction=int(np.bincount(cluster).max()) / n,
        mean_cluster_size=n / cluster_count,
        cutoff=cutoff,
    )


def _faces(neighbours: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Face index of every triangle: triangles sharing a removed inner edge are one face."""
    triangle, side = np.nonzero(~kept & (neighbours >= 0))
    n_triangles = len(neighbours)
    joins = coo_matrix(
        (np.ones(len(triangle)), (triangle, neighbours[triangle, side])),
        shape=(n_triangles, n_triangles),
    )
    return connected_components(joins, directed=False)[1]
