"""Images embedded in the report, each at most `MAX_WIDTH` pixels wide: line art (plots, masks) as
PNG, photographic images (micrographs, overlays and heat maps on them) as JPEG, which keeps a
report of a dozen micrographs to a few megabytes."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, UnidentifiedImageError

from sagegan.errors import DataError

MAX_WIDTH = 1024
FIGURE_DPI = 100
PALETTE_COLOURS = 256
JPEG_QUALITY = 75
# line art: its few most frequent colours (background, lines, bars) cover most of the picture
LINE_ART_COLOURS = 16
LINE_ART_COVERAGE = 0.9
PNG, JPEG = "image/png", "image/jpeg"
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class EmbeddedImage:
    """Encoded image bytes and their MIME type (`PNG` or `JPEG`)."""

    data: bytes
    mime: str

    def data_uri(self) -> str:
        return f"data:{self.mime};base64," + base64.b64encode(self.data).decode("ascii")


def _narrow(image: Image.Image) -> Image.Image:
    """``image`` downscaled to `MAX_WIDTH` (keeping its aspect ratio) when wider."""
    if image.width <= MAX_WIDTH:
        return image
    height = max(1, round(image.height * MAX_WIDTH / image.width))
    return image.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)


def _flatten(image: Image.Image) -> Image.Image:
    """``image`` without transparency: RGBA and LA pasted onto white, other modes as RGB or L."""
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGB", image.size, WHITE)
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _png(image: Image.Image) -> bytes:
    """PNG bytes of line art at most `MAX_WIDTH` wide; colour is reduced to a 256-colour palette
    (plenty for a plot, and a third of the size)."""
    narrow = _flatten(_narrow(image))
    if narrow.mode == "RGB":
        narrow = narrow.quantize(PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    narrow.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    """JPEG bytes of ``image`` at most `MAX_WIDTH` wide (transparency flattened onto white)."""
    buffer = io.BytesIO()
    _flatten(_narrow(image)).save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def is_line_art(image: Image.Image) -> bool:
    """Whether ``image`` is line art (a plot, a mask): its `LINE_ART_COLOURS` most frequent
    colours cover at least `LINE_ART_COVERAGE` of its pixels; a micrograph spreads over many."""
    rgb = _narrow(image).convert("RGB")
    colours = rgb.getcolors(maxcolors=rgb.width * rgb.height)
    counts = sorted((count for count, _ in colours or []), reverse=True)
    return sum(counts[:LINE_ART_COLOURS]) >= LINE_ART_COVERAGE * rgb.width * rgb.height


def _open(path: Path) -> tuple[bytes, Image.Image]:
    """The bytes of an image file and the decoded image (RGB, RGBA, L or LA; its ``format`` that
    of the file or None when converted); DataError naming an unreadable file."""
    try:
        data = path.read_bytes()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataError(path, f"unreadable image ({err})") from None
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return data, image


def _png_of(data: bytes, image: Image.Image) -> bytes:
    """``data`` itself when it is a PNG narrow enough and no larger than its 256-colour version
    (a grey PNG is kept as it is), else ``image`` re-encoded as PNG."""
    if image.format != "PNG" or image.width > MAX_WIDTH:
        return _png(image)
    if image.mode in ("L", "LA"):
        return data
    encoded = _png(image)
    return encoded if len(encoded) < len(data) else data


def png_of_file(path: Path) -> bytes:
    """PNG bytes of an image file: the file itself when it is a PNG narrow enough (and no larger
    than its 256-colour version), else re-encoded; an unreadable file is a DataError naming it."""
    data, image = _open(path)
    with image:
        return _png_of(data, image)


def embed_file(path: Path) -> EmbeddedImage:
    """An image file for the report: PNG when it is line art (`is_line_art`), else JPEG."""
    data, image = _open(path)
    with image:
        if is_line_art(image):
            return EmbeddedImage(_png_of(data, image), PNG)
        return EmbeddedImage(_jpeg(image), JPEG)


def embed_photo(rgb: np.ndarray) -> EmbeddedImage:
    """An H x W x 3 uint8 photographic image (a micrograph with outlines) as JPEG."""
    return EmbeddedImage(_jpeg(Image.fromarray(rgb)), JPEG)


def embed_figure(figure: Figure) -> EmbeddedImage:
    """A matplotlib plot, rendered in memory with the Agg backend at most `MAX_WIDTH` pixels wide
    (`FIGURE_DPI` or less), as a 256-colour PNG."""
    FigureCanvasAgg(figure)
    width_inches = figure.get_figwidth()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=min(FIGURE_DPI, MAX_WIDTH / width_inches))
    with Image.open(buffer) as image:
        image.load()
        return EmbeddedImage(_png(image), PNG)
