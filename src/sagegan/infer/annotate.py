"""Annotations drawn into native-resolution RGB overlays, so that a figure says what it shows: a
scale bar in nm (or µm) and a colour bar for heat maps. Sizes follow the image (about 1/40 of its
shorter side for text), so the marks stay readable when a large image is viewed downscaled."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont

from sagegan.synth.databar import scale_bar_length_nm

MARGIN_FRACTION = 0.02
TEXT_FRACTION = 0.035
MIN_TEXT_PX = 10


def _length_text(length_nm: float) -> str:
    return f"{length_nm / 1000:g} µm" if length_nm >= 1000 else f"{length_nm:g} nm"


def _font(rgb: np.ndarray) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(MIN_TEXT_PX, round(TEXT_FRACTION * min(rgb.shape[:2]))))


def _boxed_text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, font, anchor: str):
    """White text on a dark box, readable on any background."""
    box = draw.textbbox(xy, text, font=font, anchor=anchor)
    pad = max(1, (box[3] - box[1]) // 5)
    draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=(0, 0, 0))
    draw.text(xy, text, font=font, anchor=anchor, fill=(255, 255, 255))


def add_scale_bar(rgb: np.ndarray, pixel_size_nm: float) -> np.ndarray:
    """A copy of ``rgb`` with a white scale bar (a 1-2-5 x 10^k length up to 20 % of the width)
    and its length, bottom right."""
    height, width = rgb.shape[:2]
    length_nm = scale_bar_length_nm(pixel_size_nm, width)
    length_px = max(1, round(length_nm / pixel_size_nm))
    margin = max(2, round(MARGIN_FRACTION * min(height, width)))
    thickness = max(2, round(0.01 * min(height, width)))
    image = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(image)
    right, bottom = width - margin, height - margin
    bar = (right - length_px, bottom - thickness, right, bottom)
    draw.rectangle((bar[0] - 1, bar[1] - 1, bar[2] + 1, bar[3] + 1), fill=(0, 0, 0))
    draw.rectangle(bar, fill=(255, 255, 255))
    centre = (bar[0] + bar[2]) // 2
    _boxed_text(draw, (centre, bar[1] - margin), _length_text(length_nm), _font(rgb), "md")
    return np.asarray(image)


def add_colour_bar(rgb: np.ndarray, colormap: str, low: str = "0", high: str = "1") -> np.ndarray:
    """A copy of ``rgb`` with a vertical bar of ``colormap`` from ``low`` (bottom) to ``high``
    (top) along the right edge, labelled at both ends."""
    height, width = rgb.shape[:2]
    margin = max(2, round(MARGIN_FRACTION * min(height, width)))
    bar_width = max(3, round(0.025 * width))
    bar_height = max(4, round(0.4 * height))
    ramp = colormaps[colormap](np.linspace(1.0, 0.0, bar_height))[:, :3]
    out = np.array(rgb, copy=True)
    top, left = margin * 3, width - margin - bar_width
    out[top - 1 : top + bar_height + 1, left - 1 : left + bar_width + 1] = 0
    out[top : top + bar_height, left : left + bar_width] = np.round(ramp * 255)[:, None, :]
    image = Image.fromarray(out)
    draw = ImageDraw.Draw(image)
    font = _font(rgb)
    _boxed_text(draw, (left - margin, top), high, font, "rt")
    _boxed_text(draw, (left - margin, top + bar_height), low, font, "rb")
    return np.asarray(image)
