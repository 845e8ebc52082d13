"""SEM image formation from an instance label map: substrate, particles, blur, noise, artefacts."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from sagegan.synth.config import SimulatorConfig
from sagegan.synth.databar import draw_databar
from sagegan.synth.film import render_film
from sagegan.synth.noise import upsample_bilinear
from sagegan.synth.substrate import render_substrate


@dataclass(frozen=True)
class RenderParams:
    """Concrete image-formation values for one image (see SimulatorConfig for their meaning)."""

    substrate_level: float
    relief: float
    relief_exponent: float
    grain: float
    n_steps: int
    step_height: float
    substrate_contours: float
    particle_contrast: float
    particle_spread: float
    dome: float
    edge_brightening: float
    rim_width_px: float
    shading: float
    light_angle: float
    halo: float
    blur_sigma_px: float
    dose: float
    read_noise: float
    noise_correlation_px: float
    scan_jitter_px: float
    gradient: float
    gradient_angle: float
    contrast: float
    offset: float
    film_coverage: float = 0.0
    film_sheet: float = 0.0
    film_rim: float = 0.0
    film_rim_px: float = 1.0


FILM_FIELDS = ("film_coverage", "film_sheet", "film_rim", "film_rim_px")


def sample_render_params(rng: np.random.Generator, config: SimulatorConfig) -> RenderParams:
    """Draw one image's rendering values from the config's ranges (dose log-uniformly)."""
    values: dict[str, float] = {}
    without_film = config.film_coverage[1] <= 0  # draws nothing, so older seeds render the same
    for f in fields(RenderParams):
        name = f.name
        if name in FILM_FIELDS and without_film:
            continue
        if name == "n_steps":
            values[name] = int(rng.poisson(config.steps))
        elif name in ("light_angle", "gradient_angle"):
            values[name] = float(rng.uniform(0.0, 2.0 * math.pi))
        elif name == "particle_spread":
            values[name] = config.particle_spread
        elif name == "dose":
            lo, hi = np.log(config.dose)
            values[name] = float(np.exp(rng.uniform(lo, hi)))
        else:
            lo, hi = getattr(config, name)
            values[name] = float(rng.uniform(lo, hi))
    return RenderParams(**values)


def render_sem(
    labels: np.ndarray,
    rng: np.random.Generator,
    config: SimulatorConfig,
    databar_rows: int = 0,
) -> np.ndarray:
    """Render an 8-bit SEM-like image of the particles in ``labels`` (instance map with
    0 = background, or a binary mask); the last ``databar_rows`` rows get a databar."""
    params = sample_render_params(rng, config)
    return render_image(labels, rng, params, config.pixel_size_nm, databar_rows)


def render_image(
    labels: np.ndarray,
    rng: np.random.Generator,
    params: RenderParams,
    pixel_size_nm: float,
    databar_rows: int = 0,
) -> np.ndarray:
    """Form the image: substrate + support film + particles -> probe blur -> charging ramp ->
    scan jitter -> shot and detector noise -> contrast/offset -> uint8, then the optional databar.

    ``labels`` is an instance map (non-negative integers, 0 = background) or a binary mask, whose
    4-connected components are then taken as the particles.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not (labels.dtype == bool or np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"labels must be a 2-D integer or boolean array, got {labels.dtype}")
    if labels.dtype == bool:
        labels = ndimage.label(labels)[0]
    elif labels.size and labels.min() < 0:
        raise ValueError("labels must be non-negative")
    shape = labels.shape
    signal = render_substrate(
        rng,
        shape,
        level=params.substrate_level,
        relief=params.relief,
        relief_exponent=params.relief_exponent,
        grain=params.grain,
        n_steps=params.n_steps,
        step_height=params.step_height,
        contours=params.substrate_contours,
    )
    if params.film_coverage > 0:
        signal += render_film(
            rng,
            shape,
            coverage=params.film_coverage,
            sheet=params.film_sheet,
            rim=params.film_rim,
            rim_width_px=params.film_rim_px,
        )
    foreground = labels > 0
    if foreground.any():
        add_particle_signal(signal, labels, foreground, rng, params)
        if params.halo:
            signal -= np.float32(params.halo) * _shadow(labels, foreground)
    if params.blur_sigma_px > 0:
        signal = ndimage.gaussian_filter(signal, params.blur_sigma_px, mode="reflect")
    signal *= _ramp(shape, params.gradient, params.gradient_angle)
    if params.scan_jitter_px > 0:
        signal = _jitter_rows(signal, rng, params.scan_jitter_px)
    signal = _add_noise(signal, rng, params)
    mean = np.float32(signal.mean())
    signal = (signal - mean) * np.float32(params.contrast) + mean + np.float32(params.offset)
    image = np.clip(signal * 255.0 + 0.5, 0, 255).astype(np.uint8)
    draw_databar(image, databar_rows, rng, pixel_size_nm)
    return image


def add_particle_signal(
    signal: np.ndarray,
    labels: np.ndarray,
    foreground: np.ndarray,
    rng: np.random.Generator,
    params: RenderParams,
) -> None:
    """Add the particles' brightness to ``signal`` (float32, in place).

    Each particle has its own brightness, modulated by a dome (weight ``dome``) whose height
    comes from the distance to its outline (approximate Euclidean distance from two chamfer
    transforms, normalised by the particle's equivalent radius), plus a secondary-electron
    bright rim that decays with that distance, plus directional shading from the dome's slope.
    Outlines between touching particles count as edges, so touching particles stay
    distinguishable as in real images.
    """
    outline = np.zeros_like(foreground)
    vertical = labels[1:] != labels[:-1]
    horizontal = labels[:, 1:] != labels[:, :-1]
    outline[1:] |= vertical
    outline[:-1] |= vertical
    outline[:, 1:] |= horizontal
    outline[:, :-1] |= horizontal
    interior = foreground & ~outline
    if interior.all():  # one particle fills the image: no outline to measure depth from
        interior[0] = False
    depth_map = ndimage.distance_transform_cdt(interior, "taxicab").astype(np.float32)
    depth_map += ndimage.distance_transform_cdt(interior, "chessboard")
    pixels = np.flatnonzero(foreground)
    owner = labels.ravel()[pixels]
    depth = depth_map.ravel()[pixels] * np.float32(0.5) + np.float32(0.5)
    areas = np.bincount(owner).astype(np.float32)
    radius = np.sqrt(np.maximum(areas, 1.0) / np.float32(math.pi))
    brightness = np.float32(params.particle_contrast) * (
        1.0 + np.float32(params.particle_spread) * rng.standard_normal(len(areas), np.float32)
    )
    relative = np.minimum(depth / radius[owner], np.float32(1.0))
    dome = np.sqrt(relative * (np.float32(2.0) - relative))
    dome_map = np.zeros(labels.size, dtype=np.float32)
    dome_map[pixels] = dome
    slope_y, slope_x = np.gradient(dome_map.reshape(labels.shape))
    light = math.sin(params.light_angle) * slope_y + math.cos(params.light_angle) * slope_x
    dome_weight = np.float32(params.dome)
    value = brightness[owner] * (np.float32(1.0) - dome_weight + dome_weight * dome)
    value += np.float32(params.edge_brightening) * np.exp(-depth / np.float32(params.rim_width_px))
    value += np.float32(params.shading) * light.ravel()[pixels]
    signal.ravel()[pixels] += value


def _ramp(shape: tuple[int, int], amplitude: float, angle: float) -> np.ndarray:
    """Multiplicative linear brightness ramp between 1 - amplitude and 1 + amplitude."""
    yy = np.linspace(-1.0, 1.0, shape[0], dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, shape[1], dtype=np.float32)[None, :]
    direction = np.float32(math.sin(angle)) * yy + np.float32(math.cos(angle)) * xx
    return 1.0 + np.float32(amplitude / math.sqrt(2.0)) * direction


def _jitter_rows(signal: np.ndarray, rng: np.random.Generator, amount_px: float) -> np.ndarray:
    """Shift each row sideways by a smooth random sub-pixel amount (first-order Taylor shift)."""
    shifts = ndimage.gaussian_filter1d(rng.standard_normal(signal.shape[0]), 2.0)
    shifts *= amount_px / max(float(shifts.std()), 1e-6)
    shifts = np.clip(shifts, -1.0, 1.0).astype(np.float32)
    slope = np.gradient(signal, axis=1)
    return signal + shifts[:, None] * slope


def _shadow(labels: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Smooth 0..1 field that is high on the substrate next to particles (shadowed secondary
    electrons make the substrate darker there); its reach scales with the median particle.

    Computed on a grid coarser by about a third of the reach (block means, two box filters)
    and upsampled bilinearly, since the field is smooth.
    """
    areas = np.bincount(labels.ravel())[1:]
    diameter = math.sqrt(4.0 * float(np.median(areas[areas > 0])) / math.pi)
    width = max(3, round(0.6 * diameter))
    factor = max(1, width // 3)
    height, span = foreground.shape
    rows, columns = -(-height // factor) + 1, -(-span // factor) + 1
    blocks = np.zeros((rows * factor, columns * factor), dtype=np.float32)
    blocks[:height, :span] = foreground
    coarse = blocks.reshape(rows, factor, columns, factor).mean(axis=(1, 3))
    box = max(1, round(width / factor))
    coarse = ndimage.uniform_filter(ndimage.uniform_filter(coarse, box), box)
    shadow = upsample_bilinear(coarse, foreground.shape, factor)
    shadow[foreground] = 0.0
    return np.minimum(shadow * np.float32(2.0), np.float32(1.0))


def _add_noise(signal: np.ndarray, rng: np.random.Generator, params: RenderParams) -> np.ndarray:
    """Shot noise (Gaussian approximation of Poisson counts at ``dose`` electrons per unit
    brightness) plus Gaussian detector noise, correlated along the scan direction."""
    variance = np.maximum(signal, 0.0) / np.float32(params.dose) + np.float32(params.read_noise**2)
    noise = rng.standard_normal(signal.shape, np.float32)
    sigma = params.noise_correlation_px
    if sigma > 0:
        noise = ndimage.gaussian_filter1d(noise, sigma, axis=1)
        impulse = np.zeros(2 * math.ceil(4 * sigma) + 1)
        impulse[len(impulse) // 2] = 1.0
        noise /= np.float32(np.linalg.norm(ndimage.gaussian_filter1d(impulse, sigma)))
    return signal + np.sqrt(variance) * noise
