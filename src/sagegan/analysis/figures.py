"""Analysis figures: particle outlines, the size histogram with its log-normal fit, and g(r)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from skimage.segmentation import find_boundaries

from sagegan.analysis.sizes import LogNormalFit
from sagegan.data.atomic_files import write_bytes_atomic
from sagegan.infer.overlays import PREDICTED_OUTLINE_RGB, TRUTH_OUTLINE_RGB

# measured particles follow the outline convention of every overlay: annotated cyan, predicted
# yellow; particles excluded from the size statistics (touching the border) are magenta
MEASURED_COLOUR = TRUTH_OUTLINE_RGB
PREDICTED_MEASURED_COLOUR = PREDICTED_OUTLINE_RGB
EDGE_COLOUR = (1.0, 0.0, 1.0)
MAX_OVERLAY_SIDE = 1600


def _save(figure: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def _gray(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, [0.5, 99.5])
    return np.clip((image - low) / max(float(high - low), 1e-6), 0.0, 1.0)


def overlay_rgb(
    image: np.ndarray,
    labels: np.ndarray,
    particle_labels: np.ndarray,
    measured: np.ndarray,
    measured_colour: tuple[float, float, float] = MEASURED_COLOUR,
) -> np.ndarray:
    """The grey image as RGB with the outline of each particle: ``measured_colour`` where
    measured, else `EDGE_COLOUR`.

    ``particle_labels`` are the label ids of the particles (any ids, e.g. with gaps left by
    removed specks) and ``measured`` one flag per particle; other labels are not outlined."""
    particle_labels = np.asarray(particle_labels, dtype=np.int64)
    measured = np.asarray(measured, dtype=bool)
    if particle_labels.shape != measured.shape:
        raise ValueError(
            f"one measured flag per particle: {measured.shape} flags for "
            f"{particle_labels.shape} particles"
        )
    # status per label id: 0 not a particle, 1 measured, 2 excluded from size statistics
    size = int(max(labels.max(initial=0), particle_labels.max(initial=0))) + 1
    status = np.zeros(size, dtype=np.uint8)
    status[particle_labels] = np.where(measured, 1, 2)
    outline = status[labels] * find_boundaries(labels, mode="inner")
    rgb = np.repeat(_gray(image)[..., None], 3, axis=2)
    rgb[outline == 1] = measured_colour
    rgb[outline == 2] = EDGE_COLOUR
    return rgb


def particle_overlay(
    image: np.ndarray,
    labels: np.ndarray,
    particle_labels: np.ndarray,
    measured: np.ndarray,
    path: Path,
    title: str,
    measured_colour: tuple[float, float, float] = MEASURED_COLOUR,
) -> Path:
    """`overlay_rgb` as a figure with ``title``, downsampled to at most `MAX_OVERLAY_SIDE`."""
    step = max(1, int(np.ceil(max(labels.shape) / MAX_OVERLAY_SIDE)))
    labels = labels[::step, ::step]
    rgb = overlay_rgb(image[::step, ::step], labels, particle_labels, measured, measured_colour)
    height, width = labels.shape
    figure = plt.figure(figsize=(8.0, 8.0 * height / width))
    axis = figure.add_axes((0, 0, 1, 1))
    axis.imshow(rgb, interpolation="nearest")
    axis.set_axis_off()
    axis.text(
        0.01,
        0.99,
        title,
        transform=axis.transAxes,
        va="top",
        ha="left",
        color="white",
        fontsize=9,
        bbox={"facecolor": "black", "alpha": 0.6, "linewidth": 0},
    )
    return _save(figure, path)


def size_histogram(
    values: np.ndarray, fit: LogNormalFit | None, unit: str, path: Path, title: str
) -> Path:
    """Histogram of equivalent circular diameters (counts) with the fitted log-normal density
    scaled to the counts."""
    values = np.asarray(values, dtype=np.float64)
    figure, axis = plt.subplots(figsize=(6.0, 4.0))
    bins = np.histogram_bin_edges(values, bins="fd") if values.size > 1 else 10
    if values.size > 1 and len(bins) > 80:
        bins = 80
    _, edges, _ = axis.hist(values, bins=bins, color="0.65", edgecolor="0.3", linewidth=0.5)
    if fit is None:
        axis.text(0.98, 0.95, "no log-normal fit", transform=axis.transAxes, ha="right")
    else:
        x = np.linspace(max(edges[0], 1e-9), edges[-1], 300)
        width = float(np.mean(np.diff(edges)))
        label = f"log-normal: median {fit.median:.3g} {unit}, GSD {fit.geometric_sd:.3g}"
        axis.plot(x, fit.pdf(x) * values.size * width, color="tab:red", label=label)
        axis.legend(fontsize=8, loc="upper right")
    axis.set_xlabel(f"equivalent circular diameter ({unit})")
    axis.set_ylabel("particles")
    axis.set_title(title, fontsize=10)
    return _save(figure, path)


def _as_array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if value is None else value for value in values], dtype=float)


def order_figure(order: dict, unit: str, path: Path, title: str) -> Path | None:
    """g(r) of the particle centroids against the complete-spatial-randomness envelope, with the
    main order numbers; None when g(r) is undefined (too few particles)."""
    curve = order["pair_correlation"]
    r, observed = np.asarray(curve["r"], dtype=float), curve["observed"]
    if r.size == 0 or all(value is None for value in observed):
        return None
    figure, axis = plt.subplots(figsize=(6.0, 4.0))
    axis.fill_between(
        r,
        _as_array(curve["reference_low_2.5"]),
        _as_array(curve["reference_high_97.5"]),
        color="0.85",
        label="random (CSR) 95% envelope",
    )
    axis.plot(r, _as_array(curve["reference_mean"]), color="0.5", linestyle="--", linewidth=1)
    axis.plot(r, _as_array(observed), color="tab:blue", label="particles")
    axis.axhline(1.0, color="0.3", linewidth=0.5)
    metrics = order["metrics"]
    lines = [
        f"{label} {metrics[key]['observed']:.3g} (z {metrics[key]['z']:+.1f})"
        for key, label in (("clark_evans", "Clark-Evans R"), ("psi6_mean", "|psi6|"))
        if metrics[key]["observed"] is not None and metrics[key]["z"] is not None
    ]
    if lines:
        axis.text(
            0.98,
            0.05,
            "\n".join(lines),
            transform=axis.transAxes,
            ha="right",
            fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0},
        )
    axis.set_xlabel(f"r ({unit})")
    axis.set_ylabel("g(r)")
    axis.set_title(f"{title}: pair correlation of particle centroids", fontsize=10)
    axis.legend(fontsize=8, loc="upper right")
    return _save(figure, path)
