"""Support-film features that look like particles but are not: sheets, holes and their bright rims.

Carbon films and supports in SEM images carry folds, torn sheets and holes whose edges shine as
brightly as particles (secondary electrons escape from edges). A network that has only seen
particles on smooth substrates marks them; simulated images with such features, never labelled,
teach it that a bright edge or a bright smooth sheet is not a particle.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sagegan.synth.noise import coarse_grid, fractal_noise_pair, upsample_bilinear

FILM_CELL_PX = 24  # sheets and holes span tens to hundreds of pixels


def render_film(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    coverage: float,
    sheet: float,
    rim: float,
    rim_width_px: float,
) -> np.ndarray:
    """Brightness (float32) that a support film's features add to the substrate.

    Patches covering about ``coverage`` of the area (the level set of a smooth random field)
    are offset by ``sheet`` (positive: folded or torn bright sheets; negative: holes), and their
    outlines get a bright rim of height ``rim`` decaying over ``rim_width_px``, faded out along
    part of the outline by a second field so that edges also appear as open bright lines.
    """
    grid = coarse_grid(shape, FILM_CELL_PX)
    level_field, fade_field = fractal_noise_pair(rng, grid, 3.0)
    level_field = upsample_bilinear(level_field, shape, FILM_CELL_PX)
    inside = level_field > np.quantile(level_field, 1.0 - coverage)
    if not inside.any() or inside.all():
        return np.zeros(shape, dtype=np.float32)
    to_outline = np.where(
        inside, ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside)
    ).astype(np.float32)
    fade = np.clip(upsample_bilinear(fade_field, shape, FILM_CELL_PX) + 0.7, 0.0, 1.0)
    outline = np.exp(-((to_outline / np.float32(rim_width_px)) ** 2)) * fade
    return np.float32(sheet) * inside + np.float32(rim) * outline
