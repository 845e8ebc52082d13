"""Instrument databar: the dark band with text and a scale bar at the bottom of many SEM images."""

from __future__ import annotations

import math

import numpy as np

GLYPH_ROWS, GLYPH_COLS = 5, 3


def scale_bar_length_nm(pixel_size_nm: float, width: int) -> float:
    """Largest 1-2-5 x 10^k length in nm that spans at most 20 % of the image width."""
    target = 0.2 * width * pixel_size_nm
    power = 10.0 ** math.floor(math.log10(target))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target)


def draw_databar(
    image: np.ndarray, rows: int, rng: np.random.Generator, pixel_size_nm: float
) -> None:
    """Paint a databar into the bottom ``rows`` rows of a uint8 image, in place.

    The band is near-black with two lines of white text-like glyphs on the left and a scale bar
    of ``scale_bar_length_nm`` (with end ticks and a label) on the right.
    """
    if rows <= 0:
        return
    height, width = image.shape
    band = image[height - rows :]
    band[:] = rng.integers(0, 12)
    char_height = max(GLYPH_ROWS, rows // 4)
    scale = max(1, char_height // GLYPH_ROWS)
    for line in range(2):
        top = rows // 8 + line * (rows // 2)
        if top + GLYPH_ROWS * scale > rows:
            break
        _draw_text(band, rng, top, width // 60, int(width * 0.62), scale)
    bar_px = round(scale_bar_length_nm(pixel_size_nm, width) / pixel_size_nm)
    thickness = max(1, rows // 16)
    right = width - width // 40
    left = max(right - bar_px, 0)
    y = rows - rows // 4
    band[y - thickness : y, left:right] = 255
    tick = max(2, rows // 6)
    band[max(y - tick, 0) : y, left : left + thickness] = 255
    band[max(y - tick, 0) : y, right - thickness : right] = 255
    label_top = max(0, y - tick - GLYPH_ROWS * scale - scale)
    _draw_text(band, rng, label_top, left, min(right, left + 6 * 4 * scale), scale)


def _draw_text(
    band: np.ndarray, rng: np.random.Generator, top: int, left: int, right: int, scale: int
) -> None:
    """Random 5x3 glyphs (white on the band) in words from column ``left`` up to ``right``."""
    advance = (GLYPH_COLS + 1) * scale
    x = left
    while x + advance <= right:
        for _ in range(int(rng.integers(2, 9))):
            if x + advance > right:
                return
            glyph = rng.random((GLYPH_ROWS, GLYPH_COLS)) < 0.55
            block = np.kron(glyph, np.ones((scale, scale), dtype=bool))
            target = band[top : top + block.shape[0], x : x + block.shape[1]]
            target[block[: target.shape[0], : target.shape[1]]] = 255
            x += advance
        x += advance
