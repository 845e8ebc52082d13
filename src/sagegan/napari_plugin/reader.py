"""The npe2 reader: an image file opened with its pixel size as the layer's scale.

napari's own reader shows a TIFF in pixels; this one reads it as sagegan does (`read_image`:
grey values as acquired, RGB as luminance) and calibrates it by sagegan's rule (`pixel_size_of`:
Zeiss, FEI, Hitachi/JEOL sidecars, ImageJ, resolution tags), so that the layer's scale is in nm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sagegan.data.calibration import pixel_size_of
from sagegan.data.io import read_image
from sagegan.data.pairing import is_image_file
from sagegan.napari_plugin.layers import LayerData, image_layer

READ_SUFFIXES = (".tif", ".tiff")


def get_reader(path: str | Sequence[str]) -> Callable[..., list[LayerData]] | None:
    """`read_images` when every path is a TIFF file, else None (another reader may open it)."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths:
        return None
    for item in map(Path, paths):
        if item.suffix.lower() not in READ_SUFFIXES or not is_image_file(item):
            return None
    return read_images


def read_images(path: str | Sequence[str]) -> list[LayerData]:
    """One calibrated image layer per file (`image_layer`)."""
    paths = [path] if isinstance(path, str | Path) else list(path)
    return [read_calibrated(Path(item)) for item in paths]


def read_calibrated(path: Path) -> LayerData:
    """The image layer of one file: sagegan's grey values, scale in nm when calibrated."""
    return image_layer(read_image(path), path.stem, pixel_size_of(path), path)
