"""Per-particle measurements of an instance-label image, in physical units when calibrated.

Definitions follow Fiji's "Analyze Particles" where Fiji has one:

* ``area``: pixel count x pixel area; ``ecd``: equivalent circular diameter 2 sqrt(area / pi).
* ``feret_max`` / ``feret_min``: largest and smallest caliper width of the particle's pixels taken
  as unit squares (the convex hull of their corners), so a single pixel has 1 x sqrt(2).
* ``major_axis`` / ``minor_axis``: axes of the ellipse with the same second moments, pixels
  taken as unit squares (each adds 1/12 to both variances, so a one-pixel-wide line has a finite
  minor axis); ``aspect_ratio`` = major / minor; ``eccentricity`` of that ellipse.
* ``perimeter``: scikit-image's perimeter (4-connected boundary with diagonal steps of sqrt(2));
  ``circularity`` = 4 pi area / perimeter^2, clipped to 1 as Fiji does.
* ``solidity`` = area / convex area.
* ``centroid_x``, ``centroid_y``: from the image's top-left corner (pixel centres at i + 0.5).
* ``centroid_x_px``, ``centroid_y_px``, ``bbox_x_px``, ``bbox_y_px``, ``bbox_width_px``,
  ``bbox_height_px``: the same centroid and the bounding box in pixels of the source image (x
  right, y down, from its top-left corner; the box's corner is its top-left pixel's), whatever
  the calibration, to find a particle in Fiji or napari.
* ``mean_intensity``: mean raw grey value of the particle's pixels (the file's units).
* ``touches_border``: the particle has a pixel in the first or last row or column (1 or 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import ConvexHull
from skimage.measure import regionprops

from sagegan.data.calibration import check_pixel_size
from sagegan.errors import ConfigError

# column -> physical dimension (1: length, 2: area, 0: dimensionless)
COLUMNS: dict[str, int] = {
    "label": 0,
    "area": 2,
    "ecd": 1,
    "perimeter": 1,
    "feret_max": 1,
    "feret_min": 1,
    "major_axis": 1,
    "minor_axis": 1,
    "aspect_ratio": 0,
    "circularity": 0,
    "solidity": 0,
    "eccentricity": 0,
    "centroid_x": 1,
    "centroid_y": 1,
    "centroid_x_px": 0,
    "centroid_y_px": 0,
    "bbox_x_px": 0,
    "bbox_y_px": 0,
    "bbox_width_px": 0,
    "bbox_height_px": 0,
    "mean_intensity": 0,
    "touches_border": 0,
}
BOX_COLUMNS = ("bbox_x_px", "bbox_y_px", "bbox_width_px", "bbox_height_px")
_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


@dataclass
class ParticleTable:
    """One row per particle: ``columns`` maps each name of `COLUMNS` to an array; lengths are in
    ``unit`` ("nm" when the pixel size is known, else "px") and areas in ``unit`` squared."""

    columns: dict[str, np.ndarray]
    unit: str
    pixel_size_nm: float | None

    def __len__(self) -> int:
        return len(self.columns["label"])

    def header(self, name: str) -> str:
        """The column's name with its unit, e.g. ``area_nm2``, ``ecd_nm``, ``circularity``."""
        dimension = COLUMNS[name]
        if dimension == 0:
            return name
        return f"{name}_{self.unit}{'2' if dimension == 2 else ''}"

    def rows(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by `header` names (plain Python numbers; booleans as 0 or 1, as
        spreadsheets and Fiji read them)."""
        names = list(COLUMNS)
        values = [
            self.columns[name].astype(int, copy=False).tolist()
            if self.columns[name].dtype == bool
            else self.columns[name].tolist()
            for name in names
        ]
        return [
            {self.header(name): value for name, value in zip(names, row, strict=True)}
            for row in zip(*values, strict=True)
        ]

    def select(self, keep: np.ndarray) -> ParticleTable:
        """The rows where ``keep`` (bool, one per particle) is true."""
        return ParticleTable(
            {name: values[keep] for name, values in self.columns.items()},
            self.unit,
            self.pixel_size_nm,
        )


def _bounding_box(bbox: tuple[int, int, int, int]) -> dict[str, int]:
    """`BOX_COLUMNS` of a regionprops box (min_row, min_col, max_row, max_col)."""
    top, left, bottom, right = bbox
    return dict(zip(BOX_COLUMNS, (left, top, right - left, bottom - top), strict=True))


def feret_diameters(coords: np.ndarray) -> tuple[float, float]:
    """(max, min) caliper width in pixels of the pixels ``coords`` (K, 2) taken as unit squares."""
    corners = (coords[:, None, :] + _CORNERS[None]).reshape(-1, 2)
    hull = corners[ConvexHull(corners).vertices]  # counter-clockwise; never degenerate
    difference = hull[:, None, :] - hull[None, :, :]
    feret_max = float(np.sqrt((difference**2).sum(-1)).max())
    # the minimum width is reached with one caliper flush with a hull edge
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    valid = lengths > 0
    normals = np.stack([-edges[valid, 1], edges[valid, 0]], axis=1) / lengths[valid, None]
    projections = hull @ normals.T
    widths = projections.max(axis=0) - projections.min(axis=0)
    return feret_max, float(widths.min())


def measure_particles(
    labels: np.ndarray, image: np.ndarray | None = None, pixel_size_nm: float | None = None
) -> ParticleTable:
    """Measure every particle of the instance labels ``labels`` (0 = background).

    ``image`` (same shape, raw grey values) gives ``mean_intensity`` (NaN without it);
    ``pixel_size_nm`` converts lengths to nm and areas to nm^2 (pixels when None).
    """
    if labels.ndim != 2:
        raise ConfigError(f"labels must be a 2-D array, got shape {labels.shape}")
    if image is not None and image.shape != labels.shape:
        raise ConfigError(f"image shape {image.shape} does not match labels shape {labels.shape}")
    check_pixel_size(pixel_size_nm)
    scale = 1.0 if pixel_size_nm is None else float(pixel_size_nm)
    intensity = None if image is None else np.asarray(image, dtype=np.float64)
    height, width = labels.shape
    rows: dict[str, list[float]] = {name: [] for name in COLUMNS}
    for region in regionprops(np.asarray(labels, dtype=np.int64), intensity_image=intensity):
        coords = region.coords
        area = float(region.area)
        feret_max, feret_min = feret_diameters(coords)
        major, minor = (
            4.0 * math.sqrt(max(v, 0.0) + 1.0 / 12.0) for v in region.inertia_tensor_eigvals
        )
        perimeter = float(region.perimeter)
        centre_y, centre_x = region.centroid
        values = {
            "label": region.label,
            "area": area * scale**2,
            "ecd": 2.0 * math.sqrt(area / math.pi) * scale,
            "perimeter": perimeter * scale,
            "feret_max": feret_max * scale,
            "feret_min": feret_min * scale,
            "major_axis": major * scale,
            "minor_axis": minor * scale,
            "aspect_ratio": major / minor,
            "circularity": min(1.0, 4.0 * math.pi * area / perimeter**2) if perimeter else 1.0,
            "solidity": float(region.solidity),
            "eccentricity": math.sqrt(1.0 - (minor / major) ** 2),
            "centroid_x": (centre_x + 0.5) * scale,
            "centroid_y": (centre_y + 0.5) * scale,
            "centroid_x_px": centre_x + 0.5,
            "centroid_y_px": centre_y + 0.5,
            **_bounding_box(region.bbox),
            "mean_intensity": math.nan if intensity is None else float(region.intensity_mean),
            "touches_border": bool(
                coords[:, 0].min() == 0
                or coords[:, 1].min() == 0
                or coords[:, 0].max() == height - 1
                or coords[:, 1].max() == width - 1
            ),
        }
        for name, value in values.items():
            rows[name].append(value)
    dtypes = {"label": np.int64, "touches_border": bool, **dict.fromkeys(BOX_COLUMNS, np.int64)}
    columns = {name: np.asarray(rows[name], dtype=dtypes.get(name, np.float64)) for name in COLUMNS}
    return ParticleTable(columns, "px" if pixel_size_nm is None else "nm", pixel_size_nm)
