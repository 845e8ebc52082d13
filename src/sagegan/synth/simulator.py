"""The procedural SEM simulator: layout -> exact labels -> rendered image, with metadata."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sagegan.synth.config import SimulatorConfig
from sagegan.synth.databar import scale_bar_length_nm
from sagegan.synth.layouts import LAYOUTS, Placement, SizeDistribution, random_dispersion
from sagegan.synth.render import render_image, sample_render_params
from sagegan.synth.shapes import Raster, assign_shapes, rasterise


@dataclass(frozen=True)
class SyntheticSample:
    """One simulated image (uint8 H x W), its instance labels (uint16 H x W; uint32 beyond 65534
    particles) and metadata."""

    image: np.ndarray
    labels: np.ndarray
    meta: dict[str, Any]

    @property
    def mask(self) -> np.ndarray:
        """Binary particle mask (bool), identical to labels > 0."""
        return self.labels > 0


@dataclass(frozen=True)
class LayoutResult:
    """Labels of one layout and the facts about it that go into the metadata."""

    raster: Raster
    layout: str
    coverage_target: float
    diameter_median_nm: float
    n_candidates: int


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = sorted(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def draw_layout(
    rng: np.random.Generator, config: SimulatorConfig, databar_rows: int = 0
) -> LayoutResult:
    """Pick a layout, place and shape particles, and rasterise them above the databar rows."""
    height, width = config.size
    canvas = (height - databar_rows, width)
    layout = _pick(rng, config.layout_weights)
    log_lo, log_hi = np.log(config.diameter_median_nm)
    median_nm = float(np.exp(rng.uniform(log_lo, log_hi)))
    sizes = SizeDistribution(median_nm / config.pixel_size_nm, config.diameter_sigma)
    coverage = float(rng.uniform(*config.coverage))
    scatter = float(rng.uniform(*config.scatter_fraction))
    placement = LAYOUTS[layout](
        rng, canvas, sizes, coverage, **config.layout_options.get(layout, {})
    )
    if scatter > 0 and layout != "random":
        extra = random_dispersion(rng, canvas, sizes, coverage * scatter, hard_core=False)
        placement = Placement.concat([placement, extra])
    particles = assign_shapes(
        rng, placement, config.shape_weights, config.max_aspect, config.irregularity
    )
    raster = rasterise(particles, canvas, config.min_visible_fraction)
    labels = raster.labels
    if databar_rows:
        labels = np.vstack([labels, np.zeros((databar_rows, width), dtype=labels.dtype)])
    return LayoutResult(
        raster=Raster(labels, raster.placed, raster.full_area_px, raster.rejected),
        layout=layout,
        coverage_target=coverage,
        diameter_median_nm=median_nm,
        n_candidates=len(particles),
    )


def sample_layout(
    rng: np.random.Generator, config: SimulatorConfig, databar_rows: int = 0
) -> np.ndarray:
    """Instance labels (0 = background, 1..N) of a random layout; the last ``databar_rows`` rows
    stay empty. Masks only: use this for online mask augmentation."""
    return draw_layout(rng, config, databar_rows).raster.labels


def simulate(seed: int, config: SimulatorConfig | None = None) -> SyntheticSample:
    """Simulate one SEM image with exact labels; the result depends only on (seed, config).

    meta holds: seed, style, layout, n_particles (== labels.max()), n_candidates, n_rejected,
    pixel_size_nm, databar_rows, scale_bar_nm (when a databar is drawn), coverage_target,
    coverage (actual foreground fraction), diameter_median_nm, and per particle (index k is
    label k + 1): diameters_nm (equivalent-circle diameter of the whole shape, before occlusion
    and clipping), areas_px (visible area) and centroids_yx (visible centroid, pixels); plus the
    sampled rendering values under "render".
    """
    config = config or SimulatorConfig()
    rng = np.random.default_rng(seed)
    height, width = config.size
    has_databar = rng.random() < config.databar_probability
    databar_rows = round(height * config.databar_fraction) if has_databar else 0
    result = draw_layout(rng, config, databar_rows)
    labels = result.raster.labels
    params = sample_render_params(rng, config)
    image = render_image(labels, rng, params, config.pixel_size_nm, databar_rows)
    n = int(labels.max(initial=0))
    pixels = np.flatnonzero(labels)
    owner = labels.ravel()[pixels]
    areas = np.bincount(owner, minlength=n + 1)[1:]
    sum_y = np.bincount(owner, pixels // width, n + 1)[1:]
    sum_x = np.bincount(owner, pixels % width, n + 1)[1:]
    centroids = np.stack([sum_y, sum_x], axis=1) / np.maximum(areas, 1)[:, None]
    diameters_nm = np.sqrt(4.0 * result.raster.full_area_px / math.pi) * config.pixel_size_nm
    meta: dict[str, Any] = {
        "seed": int(seed),
        "style": config.style,
        "layout": result.layout,
        "n_particles": n,
        "n_candidates": result.n_candidates,
        "n_rejected": result.raster.rejected,
        "pixel_size_nm": config.pixel_size_nm,
        "size": [height, width],
        "databar_rows": databar_rows,
        "coverage_target": round(result.coverage_target, 5),
        "coverage": round(float((labels > 0).mean()), 5),
        "diameter_median_nm": round(result.diameter_median_nm, 4),
        "diameters_nm": np.round(diameters_nm, 3).tolist(),
        "areas_px": areas.tolist(),
        "centroids_yx": np.round(centroids, 2).tolist(),
        "render": {
            k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(params).items()
        },
    }
    if databar_rows:
        meta["scale_bar_nm"] = scale_bar_length_nm(config.pixel_size_nm, width)
    return SyntheticSample(image=image, labels=labels, meta=meta)
