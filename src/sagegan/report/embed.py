"""PNG bytes for embedding in the report: image files, RGB arrays and matplotlib figures, each at
most `MAX_WIDTH` pixels wide."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, UnidentifiedImageError

from sagegan.errors import DataError

MAX_WIDTH = 1200
FIGURE_DPI = 100
PALETTE_COLOURS = 256


def _encode(image: Image.Image) -> bytes:
    """PNG bytes of ``image``; a wider one is downscaled to `MAX_WIDTH` (keeping its aspect
    ratio) and, when RGB, reduced to a 256-colour palette, which shrinks large overlays of
    micrographs about threefold so that a report with several of them can still be mailed."""
    if image.width > MAX_WIDTH:
        height = max(1, round(image.height * MAX_WIDTH / image.width))
        image = image.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
        if image.mode == "RGB":
            image = image.quantize(PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def png_of_file(path: Path) -> bytes:
    """PNG bytes of an image file: the file itself when it is a PNG narrow enough, else
    re-encoded; an unreadable file is a DataError naming it."""
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format == "PNG" and image.width <= MAX_WIDTH:
                return data
            if image.mode not in ("RGB", "RGBA", "L", "LA"):
                image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            return _encode(image)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataError(path, f"unreadable image ({err})") from None


def png_of_array(rgb: np.ndarray) -> bytes:
    """PNG bytes of an H x W x 3 uint8 image."""
    return _encode(Image.fromarray(rgb))


def png_of_figure(figure: Figure) -> bytes:
    """PNG bytes of a matplotlib figure, rendered in memory with the Agg backend."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    with Image.open(buffer) as image:
        image.load()
        return buffer.getvalue() if image.width <= MAX_WIDTH else _encode(image)
