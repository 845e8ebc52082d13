"""Analysis of one image: its particles, size statistics and spatial order, in one unit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.analysis.order import Window, check_order_options, order_metrics
from sagegan.analysis.particles import ParticleTable, measure_particles
from sagegan.analysis.sizes import LogNormalFit, fit_lognormal, size_summary
from sagegan.data.calibration import PixelSize
from sagegan.data.databar import DatabarMode, crop_databar, resolve_databar_rows
from sagegan.data.io import read_image, read_mask
from sagegan.errors import DataError

UM_PER_NM = 1e-3


@dataclass(frozen=True)
class OrderOptions:
    """Settings of the spatial-order statistics (see `sagegan.analysis.order.order_metrics`)."""

    n_reference: int = 50
    seed: int = 0
    cutoff_factor: float = 1.5
    min_ring_size: int = 5

    def __post_init__(self) -> None:
        check_order_options(self.n_reference, self.cutoff_factor, self.min_ring_size)


@dataclass
class ImageAnalysis:
    """Everything measured on one image; lengths in ``unit`` ("nm" or "px")."""

    stem: str
    source: Path
    label_file: Path
    unit: str
    pixel_size: PixelSize | None
    databar_rows: int
    image: np.ndarray
    labels: np.ndarray
    particles: ParticleTable
    measured: np.ndarray
    scalars: dict[str, Any]
    order: dict[str, Any]

    @property
    def field_area(self) -> float:
        """Area of the analysed field (databar excluded) in ``unit`` squared."""
        scale = 1.0 if self.pixel_size is None else self.pixel_size.nm
        return float(self.labels.size) * scale**2


def load_labelled_image(
    image_path: Path, label_path: Path, databar: DatabarMode
) -> tuple[np.ndarray, np.ndarray, int]:
    """The raw image and its labels, both without the databar, and the rows cropped.

    Labels of the image's full size are cropped by ``databar``; labels with fewer rows and the
    same width (`sagegan segment` output, already cropped) fix the crop to the difference.
    """
    raw = read_image(image_path)
    labels = read_mask(label_path)
    if labels.shape == raw.shape:
        rows = resolve_databar_rows(raw, databar, labels, name=str(image_path))
        return crop_databar(raw, rows), crop_databar(labels, rows), rows
    if labels.shape[1] == raw.shape[1] and labels.shape[0] < raw.shape[0]:
        rows = raw.shape[0] - labels.shape[0]
        return crop_databar(raw, rows), labels, rows
    raise DataError(
        label_path, f"labels shape {labels.shape} does not match image {image_path} {raw.shape}"
    )


def remove_small_labels(labels: np.ndarray, min_area_px: int) -> tuple[np.ndarray, int]:
    """``labels`` without the objects of fewer than ``min_area_px`` pixels, and how many went."""
    if min_area_px <= 0:
        return labels, 0
    areas = np.bincount(labels.ravel())
    small = (areas > 0) & (areas < min_area_px)
    small[0] = False
    if not small.any():
        return labels, 0
    return np.where(small[labels], 0, labels), int(small.sum())


def unit_name(name: str, dimension: int, unit: str) -> str:
    """``name`` with the unit of its dimension appended (``ecd_mean_nm``, ``area_px2``)."""
    if dimension == 0:
        return name
    return f"{name}_{unit}{'2' if dimension == 2 else ''}"


def per_area(name: str, unit: str) -> str:
    """A per-area quantity's name with its area unit: per µm² when in nm, else per px²."""
    return f"{name}_per_um2" if unit == "nm" else f"{name}_per_px2"


def to_per_area_unit(value: float | None, unit: str) -> float | None:
    """A value per ``unit``² converted to the unit `per_area` names (nm⁻² -> µm⁻²)."""
    if value is None:
        return None
    return value / UM_PER_NM**2 if unit == "nm" else value


def size_scalars(ecd: np.ndarray, unit: str) -> tuple[dict[str, Any], LogNormalFit | None]:
    """Summary statistics of the equivalent diameters ``ecd`` (``ecd_<stat>_<unit>``) and the
    log-normal fit's median and geometric sd; the fit itself for anything else."""
    scalars = {
        unit_name(f"ecd_{key}", 1, unit): value
        for key, value in size_summary(ecd).items()
        if key != "n"
    }
    fit = fit_lognormal(ecd)
    scalars[unit_name("lognormal_median", 1, unit)] = None if fit is None else fit.median
    scalars["lognormal_gsd"] = None if fit is None else fit.geometric_sd
    return scalars, fit


def order_scalars(report: dict[str, Any], unit: str) -> dict[str, Any]:
    """The headline order numbers of an `order_metrics` dict, each with its z-score against
    complete spatial randomness where that says "ordered" or "clustered"."""
    metrics = report["metrics"]
    return {
        unit_name("nnd_mean", 1, unit): metrics["nnd_mean"]["observed"],
        "clark_evans": metrics["clark_evans"]["observed"],
        "clark_evans_z": metrics["clark_evans"]["z"],
        "psi6_mean": metrics["psi6_mean"]["observed"],
        "psi6_mean_csr": metrics["psi6_mean"]["reference_mean"],
        "psi6_z": metrics["psi6_mean"]["z"],
        unit_name("g_peak_r", 1, unit): metrics["g_peak_r"]["observed"],
        "g_peak": metrics["g_peak"]["observed"],
        "g_peak_z": metrics["g_peak"]["z"],
        per_area("ring_density", unit): to_per_area_unit(metrics["ring_density"]["observed"], unit),
        "ring_density_z": metrics["ring_density"]["z"],
        "ring_particle_fraction": metrics["ring_particle_fraction"]["observed"],
        "largest_cluster_fraction": metrics["largest_cluster_fraction"]["observed"],
        "largest_cluster_z": metrics["largest_cluster_fraction"]["z"],
    }


def analyze_image(
    stem: str,
    image_path: Path,
    label_path: Path,
    pixel_size: PixelSize | None,
    databar: DatabarMode = "auto",
    exclude_edges: bool = True,
    order: OrderOptions | None = None,
    min_area_px: int = 0,
) -> ImageAnalysis:
    """Measure the particles of one image and summarise their sizes and arrangement.

    Size statistics use the particles that do not touch the image border when ``exclude_edges``
    (Fiji's "exclude on edges": cut particles would bias sizes down); counts, density, coverage
    and the order statistics use all particles. Objects smaller than ``min_area_px`` pixels
    (specks, annotation fragments) are not particles: removed before anything is measured and
    counted as ``count_below_min_area``; the others keep their label ids.
    """
    order = order or OrderOptions()
    image, labels, rows = load_labelled_image(image_path, label_path, databar)
    labels, removed = remove_small_labels(labels, min_area_px)
    scale = 1.0 if pixel_size is None else pixel_size.nm
    unit = "px" if pixel_size is None else "nm"
    table = measure_particles(labels, image, None if pixel_size is None else pixel_size.nm)
    edge = table.columns["touches_border"]
    measured = ~edge if exclude_edges else np.ones(len(table), dtype=bool)
    height, width = labels.shape
    window = Window(width * scale, height * scale)
    ecd = table.columns["ecd"][measured]
    scalars: dict[str, Any] = {
        "stem": stem,
        "unit": unit,
        "pixel_size_nm": None if pixel_size is None else pixel_size.nm,
        unit_name("field_width", 1, unit): window.width,
        unit_name("field_height", 1, unit): window.height,
        "count": len(table),
        "count_edge": int(edge.sum()),
        "count_below_min_area": removed,
        "count_measured": int(measured.sum()),
        per_area("density", unit): to_per_area_unit(len(table) / window.area, unit),
        "coverage": float(np.count_nonzero(labels) / labels.size),
    }
    scalars.update(size_scalars(ecd, unit)[0])
    for name in ("circularity", "aspect_ratio", "solidity"):
        values = table.columns[name][measured]
        scalars[f"{name}_mean"] = float(values.mean()) if values.size else None
    points = np.stack([table.columns["centroid_x"], table.columns["centroid_y"]], axis=1)
    report = order_metrics(
        points,
        window,
        n_reference=order.n_reference,
        seed=order.seed,
        cutoff_factor=order.cutoff_factor,
        min_ring_size=order.min_ring_size,
    ).to_dict()
    scalars.update(order_scalars(report, unit))
    return ImageAnalysis(
        stem=stem,
        source=image_path,
        label_file=label_path,
        unit=unit,
        pixel_size=pixel_size,
        databar_rows=rows,
        image=image,
        labels=labels,
        particles=table,
        measured=measured,
        scalars=scalars,
        order=report,
    )
