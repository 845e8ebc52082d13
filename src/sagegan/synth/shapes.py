"""Particle shapes (round, elliptical, faceted) and their rasterisation into instance labels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from sagegan.synth.layouts import Placement

SHAPE_KINDS = ("round", "ellipse", "faceted")
MAX_SIDES = 8
HARMONICS = np.arange(2, 6)  # orders of the outline perturbation
OUTLINE_ANGLES = 128  # angular resolution of the tabulated outline perturbation
MIN_AREA_PX = 4


@dataclass(frozen=True)
class Particles:
    """Particles to draw, in drawing order (later ones occlude earlier ones).

    centers (N, 2) (y, x) px; diameters (N,) nominal equivalent-circle diameters in px;
    aspects (N,) length/width ratio >= 1; angles (N,) orientation in radians; sides (N,) number of
    facets (0 = smooth ellipse); facet_depth (N, MAX_SIDES) per-facet distance factors around 1;
    sharpness (N,) corner sharpness of faceted particles, 8 or 16 (higher = sharper corners);
    outline_scale (N, OUTLINE_ANGLES) radial scale factor of the outline at equally spaced
    angles from -pi (low-order harmonics that make the shapes irregular; all ones = ideal shape).
    """

    centers: np.ndarray
    diameters: np.ndarray
    aspects: np.ndarray
    angles: np.ndarray
    sides: np.ndarray
    facet_depth: np.ndarray
    sharpness: np.ndarray
    outline_scale: np.ndarray

    def __len__(self) -> int:
        return len(self.diameters)


def assign_shapes(
    rng: np.random.Generator,
    placement: Placement,
    shape_weights: dict[str, float],
    max_aspect: float,
    irregularity: float,
) -> Particles:
    """Give each placed particle a shape drawn from ``shape_weights`` (keys in SHAPE_KINDS).

    Ellipses get aspect ratios uniform in [1, max_aspect]; faceted particles get 4-8 facets with
    +-12 % facet-distance jitter, rounded corners and mild elongation (up to sqrt(max_aspect)).
    Every outline is perturbed radially by harmonics of order 2-5 with amplitudes up to
    ``irregularity / order`` (0 gives perfect ellipses and polygons).
    """
    n = len(placement)
    weights = np.array([shape_weights.get(kind, 0.0) for kind in SHAPE_KINDS], dtype=float)
    kinds = rng.choice(len(SHAPE_KINDS), size=n, p=weights / weights.sum())
    aspects = np.ones(n)
    is_ellipse, is_faceted = kinds == 1, kinds == 2
    aspects[is_ellipse] = rng.uniform(1.0, max_aspect, int(is_ellipse.sum()))
    aspects[is_faceted] = rng.uniform(1.0, math.sqrt(max_aspect), int(is_faceted.sum()))
    sides = np.where(is_faceted, rng.integers(4, MAX_SIDES + 1, n), 0)
    return Particles(
        centers=placement.centers,
        diameters=placement.diameters,
        aspects=aspects,
        angles=rng.uniform(0.0, math.pi, n),
        sides=sides,
        facet_depth=rng.uniform(0.88, 1.12, (n, MAX_SIDES)),
        sharpness=rng.choice([8, 16], n),
        outline_scale=_outline_scales(rng, n, irregularity),
    )


def _outline_scales(rng: np.random.Generator, n: int, irregularity: float) -> np.ndarray:
    """Per-particle tables of 1 + sum_k a_k cos(k theta + phase_k), a_k <= irregularity / k."""
    amplitudes = rng.uniform(0.0, irregularity, (n, len(HARMONICS))) / HARMONICS
    phases = rng.uniform(0.0, 2.0 * math.pi, (n, len(HARMONICS)))
    angles = np.arange(OUTLINE_ANGLES) * (2.0 * math.pi / OUTLINE_ANGLES) - math.pi
    waves = np.cos(HARMONICS[None, :, None] * angles + phases[:, :, None])
    return 1.0 + np.einsum("nk,nka->na", amplitudes, waves)


def particle_mask(particles: Particles, index: int) -> tuple[int, int, np.ndarray]:
    """Boolean mask of one particle in its own bounding box: (top row, left column, mask)."""
    cy, cx = particles.centers[index]
    radius = particles.diameters[index] / 2.0
    stretch = math.sqrt(particles.aspects[index])
    sides = int(particles.sides[index])
    outline = particles.outline_scale[index]
    irregular = bool(np.any(outline != 1.0))
    if sides:
        # Regular polygon of the same area as the disc, with jittered facet distances.
        apothem = radius * math.sqrt(math.pi / (sides * math.tan(math.pi / sides)))
        depth = apothem * particles.facet_depth[index, :sides]
        extent = float(depth.max()) / math.cos(math.pi / sides)
    else:
        extent = radius
    reach = extent * stretch * float(outline.max()) + 1.0
    top, left = math.floor(cy - reach), math.floor(cx - reach)
    size_y, size_x = math.ceil(cy + reach) - top + 1, math.ceil(cx + reach) - left + 1
    dy = (np.arange(size_y) + top + 0.5 - cy)[:, None]
    dx = (np.arange(size_x) + left + 0.5 - cx)[None, :]
    cos_a, sin_a = math.cos(particles.angles[index]), math.sin(particles.angles[index])
    u = (cos_a * dx + sin_a * dy) / stretch
    v = (cos_a * dy - sin_a * dx) * stretch
    if irregular:
        position = (np.arctan2(v, u) + math.pi) * (OUTLINE_ANGLES / (2.0 * math.pi))
        scale = outline[position.astype(np.intp) % OUTLINE_ANGLES]
        u, v = u / scale, v / scale
    if not sides:
        return top, left, u * u + v * v <= radius * radius
    # Rounded corners: the p-norm (p = sharpness, a power of two) of the normalised half-plane
    # distances, computed by repeated squaring.
    normals = 2.0 * math.pi * np.arange(sides) / sides
    proj = (np.cos(normals) / depth)[:, None, None] * u + (np.sin(normals) / depth)[
        :, None, None
    ] * v
    level = np.maximum(proj, 0.0)
    for _ in range(int(particles.sharpness[index]).bit_length() - 1):
        level *= level
    return top, left, level.sum(axis=0) <= 1.0


@dataclass(frozen=True)
class Raster:
    """Result of rasterisation.

    labels: instance map (0 = background, 1..N in drawing order); placed: index into the input
    particles of each label (label k is particle placed[k - 1]); full_area_px: area in px of each
    placed particle's whole shape (before occlusion and clipping); rejected: how many input
    particles were not placed.
    """

    labels: np.ndarray
    placed: np.ndarray
    full_area_px: np.ndarray
    rejected: int


def rasterise(particles: Particles, shape: tuple[int, int], min_visible_fraction: float) -> Raster:
    """Draw particles in order into a label map; later particles occlude earlier ones.

    A particle is placed only if at least MIN_AREA_PX of it lies inside the image and placing it
    leaves every earlier particle with at least ``min_visible_fraction`` of the area it had when
    it was placed, in one connected piece. So the label count equals the number placed exactly.
    """
    dtype = np.uint16 if len(particles) < np.iinfo(np.uint16).max else np.uint32
    labels = np.zeros(shape, dtype=dtype)
    capacity = len(particles) + 1
    visible = np.zeros(capacity, dtype=np.int64)  # current visible area per label
    reference = np.zeros(capacity, dtype=np.int64)  # visible area when placed
    boxes = np.zeros((capacity, 4), dtype=np.int64)
    placed: list[int] = []
    full_area: list[int] = []
    for index in range(len(particles)):
        top, left, mask = particle_mask(particles, index)
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + mask.shape[0], shape[0]), min(left + mask.shape[1], shape[1])
        if y1 <= y0 or x1 <= x0:
            continue
        clipped = mask[y0 - top : y1 - top, x0 - left : x1 - left]
        own_area = int(np.count_nonzero(clipped))
        if own_area < MIN_AREA_PX:
            continue
        region = labels[y0:y1, x0:x1]
        under = region[clipped]
        new_label = len(placed) + 1
        if under.any():
            touched, covered = np.unique(under[under > 0], return_counts=True)
            remaining = visible[touched] - covered
            if np.any(remaining < min_visible_fraction * reference[touched]):
                continue
            region[clipped] = new_label
            if not all(_is_connected(labels, boxes[t], t) for t in touched):
                region[clipped] = under
                continue
            visible[touched] = remaining
        else:
            region[clipped] = new_label
        visible[new_label] = reference[new_label] = own_area
        boxes[new_label] = (y0, y1, x0, x1)
        placed.append(index)
        full_area.append(int(np.count_nonzero(mask)))
    return Raster(
        labels=labels,
        placed=np.array(placed, dtype=np.int64),
        full_area_px=np.array(full_area, dtype=np.int64),
        rejected=len(particles) - len(placed),
    )


FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


def _is_connected(labels: np.ndarray, box: np.ndarray, label: int) -> bool:
    y0, y1, x0, x1 = box
    _, count = ndimage.label(labels[y0:y1, x0:x1] == label, structure=FOUR_CONNECTED)
    return count == 1
