"""Configuration of the SEM simulator and its style presets ("pdc", "tio2", "mixed")."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sagegan.config_schema import ConfigRecord
from sagegan.errors import ConfigError
from sagegan.synth.layouts import LAYOUTS
from sagegan.synth.shapes import SHAPE_KINDS

Range = tuple[float, float]
MIN_MEDIAN_DIAMETER_PX = 2.0


@dataclass(frozen=True)
class SimulatorConfig(ConfigRecord):
    """Everything that controls a synthetic image; pairs (lo, hi) are sampled uniformly per image.

    ``from_dict`` (missing keys from the ``style`` preset) and ``to_dict`` come from
    `sagegan.config_schema`; a range may be given as one number.

    Geometry
      style: name of the preset these values started from (informational once built).
      size: image (height, width) in pixels.
      pixel_size_nm: physical pixel size; diameters are given in nm and converted with it.
      layout_weights: relative frequency of each layout (keys of ``sagegan.synth.LAYOUTS``).
      layout_options: per-layout keyword options, e.g. ``{"loops": {"edge_keep": 0.7}}``.
      coverage: fraction of the image area the layout aims to cover with particles.
      diameter_median_nm: range of the per-image median diameter (sampled log-uniformly).
      diameter_sigma: log-normal sigma of diameters within an image (polydispersity).
      shape_weights: relative frequency of "round", "ellipse" and "faceted" particles.
      max_aspect: largest length/width ratio of elliptical particles.
      irregularity: strength of random low-order bumps on every outline (0 = ideal shapes).
      scatter_fraction: extra randomly dispersed particles, as a fraction of the layout's count.
      min_visible_fraction: each placed particle keeps at least this fraction of its area.
    Image formation (intensities on a 0..1 scale before conversion to 8 bits)
      substrate_level: mean substrate brightness.
      relief, relief_exponent: standard deviation and spectral exponent of smooth substrate relief.
      grain: standard deviation of fine substrate texture.
      steps, step_height: mean number of substrate terrace steps per image and their brightness.
      substrate_contours: brightness of thin worm-like contour lines on the substrate.
      film_coverage: fraction of the area under support-film sheets or holes (never labelled;
        0 = none); film_sheet: their brightness offset (negative = holes); film_rim,
        film_rim_px: the bright rim along their outlines and its width (`sagegan.synth.film`).
      particle_contrast: particle brightness above the substrate; particle_spread: relative
        brightness variation between particles; dome: how much brighter particle centres are
        than their edges (0 = flat, 1 = dark edges, negative = bright edges from tilt contrast).
      edge_brightening, rim_width_px: secondary-electron edge effect (bright rim) and its width.
      shading: strength of directional 3-D shading of the particles.
      halo: darkening of the substrate next to particles (shadowed secondary electrons);
        negative values brighten it instead (particles sitting on bright substrate features).
      blur_sigma_px: Gaussian probe blur.
      dose: electrons per pixel at brightness 1 (Poisson shot noise); read_noise: Gaussian
        detector noise; noise_correlation_px: horizontal correlation of the noise (scan direction).
      scan_jitter_px: standard deviation of sub-pixel row shifts (masks are not shifted).
      gradient: amplitude of a linear brightness ramp (charging / detector geometry).
      contrast, offset: final brightness/contrast setting.
      databar_probability: chance that an image gets an instrument databar at the bottom;
        databar_fraction: its height as a fraction of the image height.
    """

    style: str = "pdc"
    size: tuple[int, int] = (512, 768)
    pixel_size_nm: float = 1.0
    layout_weights: dict[str, float] = field(
        default_factory=lambda: {
            "loops": 0.45,
            "rings": 0.15,
            "random": 0.15,
            "chains": 0.1,
            "clusters": 0.1,
            "hexagonal": 0.05,
        }
    )
    layout_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    coverage: Range = (0.04, 0.1)
    diameter_median_nm: Range = (15.0, 22.0)
    diameter_sigma: float = 0.3
    shape_weights: dict[str, float] = field(
        default_factory=lambda: {"round": 0.45, "ellipse": 0.4, "faceted": 0.15}
    )
    max_aspect: float = 1.5
    irregularity: float = 0.25
    scatter_fraction: Range = (0.1, 0.5)
    min_visible_fraction: float = 0.5
    substrate_level: Range = (0.36, 0.46)
    relief: Range = (0.02, 0.05)
    relief_exponent: Range = (2.8, 3.6)
    grain: Range = (0.01, 0.03)
    steps: float = 1.0
    step_height: Range = (0.02, 0.06)
    substrate_contours: Range = (0.0, 0.0)
    film_coverage: Range = (0.0, 0.0)
    film_sheet: Range = (-0.08, 0.08)
    film_rim: Range = (0.15, 0.35)
    film_rim_px: Range = (1.0, 3.0)
    particle_contrast: Range = (0.3, 0.42)
    particle_spread: float = 0.2
    dome: Range = (0.7, 1.0)
    edge_brightening: Range = (0.0, 0.05)
    rim_width_px: Range = (1.5, 3.0)
    shading: Range = (0.0, 0.06)
    halo: Range = (-0.08, -0.03)
    blur_sigma_px: Range = (2.5, 3.8)
    dose: Range = (40.0, 90.0)
    read_noise: Range = (0.01, 0.03)
    noise_correlation_px: Range = (0.3, 0.6)
    scan_jitter_px: Range = (0.0, 0.3)
    gradient: Range = (0.0, 0.08)
    contrast: Range = (0.9, 1.1)
    offset: Range = (-0.03, 0.03)
    databar_probability: float = 0.0
    databar_fraction: float = 0.08

    CONFIG_NAME = "simulator options"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "Range":
                value = _as_range(f.name, value)
                object.__setattr__(self, f.name, value)
        self._validate()

    def _validate(self) -> None:
        if self.style not in PRESETS:
            raise ConfigError(f"style must be one of {sorted(PRESETS)}, got {self.style!r}")
        if len(self.size) != 2 or min(self.size) < 32:
            raise ConfigError(f"size must be (height, width) of at least 32 px, got {self.size}")
        if not self.pixel_size_nm > 0:
            raise ConfigError(f"pixel_size_nm must be positive, got {self.pixel_size_nm}")
        _check_weights("layout_weights", self.layout_weights, LAYOUTS)
        _check_weights("shape_weights", self.shape_weights, SHAPE_KINDS)
        for name, options in self.layout_options.items():
            if name not in LAYOUTS:
                raise ConfigError(f"layout_options: unknown layout {name!r}")
            accepted = set(inspect.signature(LAYOUTS[name]).parameters) - {
                "rng",
                "canvas",
                "sizes",
                "coverage",
            }
            unknown = set(options) - accepted
            if unknown:
                raise ConfigError(
                    f"layout_options[{name!r}]: unknown option(s) {sorted(unknown)}; "
                    f"accepted: {sorted(accepted)}"
                )
        unit_intervals = ("coverage", "scatter_fraction", "min_visible_fraction", "film_coverage")
        for name in (*unit_intervals, "databar_probability"):
            values = getattr(self, name)
            values = values if isinstance(values, tuple) else (values,)
            if not all(0.0 <= v <= 1.0 for v in values):
                raise ConfigError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.databar_fraction <= 0.3:
            raise ConfigError(f"databar_fraction must lie in [0, 0.3], got {self.databar_fraction}")
        if self.dose[0] <= 0:
            raise ConfigError(f"dose must be positive, got {self.dose}")
        if self.film_rim_px[0] <= 0:
            raise ConfigError(f"film_rim_px must be positive, got {self.film_rim_px}")
        if self.diameter_median_nm[0] < MIN_MEDIAN_DIAMETER_PX * self.pixel_size_nm:
            raise ConfigError(
                f"diameter_median_nm {self.diameter_median_nm} is below "
                f"{MIN_MEDIAN_DIAMETER_PX} px at pixel_size_nm={self.pixel_size_nm}; "
                "particles that small cannot be drawn"
            )
        if self.max_aspect < 1.0 or self.diameter_sigma < 0 or self.steps < 0:
            raise ConfigError("max_aspect must be >= 1; diameter_sigma and steps must be >= 0")
        if not 0.0 <= self.irregularity <= 0.6:
            raise ConfigError(f"irregularity must lie in [0, 0.6], got {self.irregularity}")
        if self.coverage[1] <= 0:
            raise ConfigError(f"coverage must allow some particles, got {self.coverage}")

    @classmethod
    def preset(cls, style: str = "pdc", **overrides: Any) -> SimulatorConfig:
        """The named preset ("pdc", "tio2", "mixed") with any fields replaced by ``overrides``."""
        if style not in PRESETS:
            raise ConfigError(f"unknown simulator style {style!r}; choose from {sorted(PRESETS)}")
        return cls.from_dict({**PRESETS[style], "style": style, **overrides})

    @classmethod
    def fill_defaults(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` over the preset its ``style`` names ("pdc" when not given), ranges given as
        one number made pairs."""
        style = values.get("style", "pdc")
        if not isinstance(style, str) or style not in PRESETS:
            raise ConfigError(f"unknown simulator style {style!r}; choose from {sorted(PRESETS)}")
        filled = {**PRESETS[style], **values}
        return {
            key: _as_range(key, value) if key in RANGE_FIELDS else value
            for key, value in filled.items()
        }

    def with_size(self, size: tuple[int, int]) -> SimulatorConfig:
        return replace(self, size=tuple(size))


RANGE_FIELDS = frozenset(f.name for f in fields(SimulatorConfig) if f.type == "Range")


def _as_range(name: str, value: Any) -> Range:
    if isinstance(value, (int, float)):
        value = (value, value)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number or a (low, high) pair, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ConfigError(f"{name} must be a finite (low, high) pair with low <= high, got {value}")
    return (lo, hi)


def _check_weights(name: str, weights: dict[str, float], allowed: Any) -> None:
    unknown = set(weights) - set(allowed)
    if unknown:
        raise ConfigError(
            f"{name}: unknown key(s) {sorted(unknown)}; choose from {sorted(allowed)}"
        )
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ConfigError(f"{name} must be non-negative with a positive sum, got {weights}")


PRESETS: dict[str, dict[str, Any]] = {
    # Pd nanoparticles on carbon (graphite_* look): small blurry particles on loops, noisy relief.
    "pdc": {},
    # TiO2 (Zeiss InLens look): faceted bright agglomerates on a dark flat substrate, sharp, clean.
    "tio2": {
        "pixel_size_nm": 7.35,
        "layout_weights": {"clusters": 0.65, "chains": 0.15, "random": 0.15, "rings": 0.05},
        "coverage": (0.04, 0.18),
        "diameter_median_nm": (150.0, 240.0),
        "diameter_sigma": 0.38,
        "shape_weights": {"round": 0.1, "ellipse": 0.3, "faceted": 0.6},
        "max_aspect": 1.8,
        "scatter_fraction": (0.0, 0.15),
        "substrate_level": (0.12, 0.19),
        "relief": (0.005, 0.015),
        "relief_exponent": (2.5, 3.0),
        "grain": (0.006, 0.012),
        "steps": 0.0,
        "substrate_contours": (0.015, 0.04),
        "irregularity": 0.3,
        "particle_contrast": (0.26, 0.34),
        "particle_spread": 0.2,
        "dome": (-0.25, -0.05),
        "edge_brightening": (0.22, 0.35),
        "rim_width_px": (1.5, 2.5),
        "shading": (0.05, 0.15),
        "halo": (0.03, 0.05),
        "blur_sigma_px": (0.4, 0.7),
        "dose": (1500.0, 4000.0),
        "read_noise": (0.004, 0.008),
        "noise_correlation_px": (0.2, 0.4),
        "scan_jitter_px": (0.0, 0.15),
        "gradient": (0.0, 0.04),
    },
    # Broad mixture of both looks for robust training.
    "mixed": {
        "pixel_size_nm": 2.0,
        "layout_weights": {
            "loops": 0.25,
            "rings": 0.1,
            "random": 0.15,
            "chains": 0.15,
            "clusters": 0.25,
            "hexagonal": 0.1,
        },
        "coverage": (0.03, 0.2),
        "diameter_median_nm": (16.0, 80.0),
        "diameter_sigma": 0.3,
        "shape_weights": {"round": 0.35, "ellipse": 0.35, "faceted": 0.3},
        "max_aspect": 1.7,
        "substrate_level": (0.12, 0.5),
        "relief": (0.005, 0.08),
        "grain": (0.003, 0.03),
        "steps": 0.5,
        "substrate_contours": (0.0, 0.03),
        "particle_contrast": (0.2, 0.45),
        "dome": (-0.25, 1.0),
        "edge_brightening": (0.0, 0.35),
        "rim_width_px": (1.5, 3.0),
        "shading": (0.0, 0.15),
        "halo": (-0.05, 0.05),
        "blur_sigma_px": (0.5, 3.2),
        "dose": (50.0, 3000.0),
        "read_noise": (0.004, 0.03),
        "noise_correlation_px": (0.2, 0.6),
        "scan_jitter_px": (0.0, 0.3),
        "gradient": (0.0, 0.08),
    },
}
