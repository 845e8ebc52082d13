"""Substrate texture of an SEM image: smooth relief, fine grain, terrace steps and contour lines."""

from __future__ import annotations

import math

import numpy as np

from sagegan.synth.noise import coarse_grid, fractal_noise_pair, upsample_bilinear

CELL_PX = 4  # texture detail finer than this comes from the noise and blur stages instead


def render_substrate(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    level: float,
    relief: float,
    relief_exponent: float,
    grain: float,
    n_steps: int,
    step_height: float,
    contours: float,
) -> np.ndarray:
    """Substrate brightness (float32, ~level) of the given shape.

    relief: standard deviation of the smooth fractal relief; grain: of the fine texture;
    n_steps: number of terrace steps (a brightness offset across a wavy line with a bright edge,
    as at graphite step edges); contours: brightness of thin worm-like lines (zero crossings of
    a band-limited field, like the polymer-film texture under TiO2 particles). Fields are made
    on a grid CELL_PX times coarser and upsampled bilinearly.
    """
    grid = coarse_grid(shape, CELL_PX)
    relief_field, warp = fractal_noise_pair(rng, grid, relief_exponent)
    grain_field, contour_field = fractal_noise_pair(rng, grid, 1.5)
    texture = np.float32(relief) * relief_field + np.float32(grain) * grain_field
    substrate = upsample_bilinear(texture, shape, CELL_PX) + np.float32(level)
    if contours > 0:
        lines = upsample_bilinear(contour_field, shape, CELL_PX) / np.float32(0.12)
        substrate += np.float32(contours) * np.maximum(1.0 - lines * lines, 0.0) ** 2
    wander = upsample_bilinear(warp, shape, CELL_PX) if n_steps else None
    yy = np.arange(shape[0], dtype=np.float32)[:, None]
    xx = np.arange(shape[1], dtype=np.float32)[None, :]
    for _ in range(n_steps):
        angle = rng.uniform(0.0, math.pi)
        y0, x0 = rng.uniform(0.0, shape[0]), rng.uniform(0.0, shape[1])
        signed = (yy - np.float32(y0)) * np.float32(math.cos(angle)) - (
            xx - np.float32(x0)
        ) * np.float32(math.sin(angle))
        signed += np.float32(rng.uniform(5.0, 25.0)) * wander
        height = np.float32(rng.choice([-1.0, 1.0]) * step_height)
        substrate += height * np.clip(signed * np.float32(1.0 / 3.0) + 0.5, 0.0, 1.0)
        edge = signed * np.float32(1.0 / rng.uniform(2.0, 6.0))
        substrate += np.float32(1.5 * abs(step_height)) * np.maximum(1.0 - edge * edge, 0.0) ** 2
    return substrate
