"""Finding and updating the widget's layers in a napari viewer (napari, no Qt widgets).

The image to work on is the selected image layer, or the image a selected prediction layer
belongs to (``IMAGE_KEY`` in its metadata), or the only image layer. Its labels are the layer
named `layer_name(image, "labels")` (made by Segment, or painted by hand under that name), or the
selected labels layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import napari
from napari.layers import Image, Labels, Layer

from sagegan.errors import DataError
from sagegan.napari_plugin.layers import (
    IMAGE_KEY,
    PIXEL_SIZE_KEY,
    SOURCE_KEY,
    LayerData,
    layer_name,
    physical_geometry,
)

NANOMETRE = "nanometer"  # pint's name of nm, as napari reports a layer's units
LAYER_TYPES: dict[str, type[Layer]] = {"image": Image, "labels": Labels}


def _by_name(viewer: napari.Viewer, name: str) -> Layer | None:
    return viewer.layers[name] if name in viewer.layers else None  # noqa: SIM401 (no .get)


def active_image(viewer: napari.Viewer) -> Image:
    """The image layer to segment, correct or measure; DataError when there is none."""
    active = viewer.layers.selection.active
    if isinstance(active, Image) and IMAGE_KEY not in active.metadata:
        return active
    if active is not None and IMAGE_KEY in active.metadata:
        owner = _by_name(viewer, active.metadata[IMAGE_KEY])
        if isinstance(owner, Image):
            return owner
    images = [
        layer
        for layer in viewer.layers
        if isinstance(layer, Image) and IMAGE_KEY not in layer.metadata
    ]
    if len(images) == 1:
        return images[0]
    if not images:
        raise DataError(None, "open an image first (File > Open, or drag it in)")
    raise DataError(None, "select the image layer to work on")


def labels_of(viewer: napari.Viewer, image: Image) -> Labels:
    """The labels layer of ``image``: its Segment layer, else the selected labels layer."""
    named = _by_name(viewer, layer_name(image.name, "labels"))
    if isinstance(named, Labels):
        return named
    active = viewer.layers.selection.active
    if isinstance(active, Labels):
        return active
    raise DataError(None, f"{image.name}: has no labels layer: press Segment or add a Labels layer")


def image_source(layer: Layer) -> Path | None:
    """The file the layer was opened from (napari's record or the sagegan reader's), if any."""
    source = layer.source.path or layer.metadata.get(SOURCE_KEY)
    if source is None or not Path(source).is_file():
        return None
    return Path(source)


def layer_pixel_size(layer: Layer) -> float | None:
    """The layer's pixel size in nm: the sagegan reader's calibration, else a scale in nm."""
    if layer.metadata.get(PIXEL_SIZE_KEY) is not None:
        return float(layer.metadata[PIXEL_SIZE_KEY])
    units = [str(unit) for unit in getattr(layer, "units", ())]
    if units and units[-1] == NANOMETRE and layer.scale[-1] != 1:
        return float(layer.scale[-1])
    return None


def match_geometry(layer: Layer, pixel_size_nm: float | None, metadata: dict[str, Any]) -> None:
    """Give ``layer`` the physical scale of its prediction (so that the layers overlay)."""
    geometry = physical_geometry(pixel_size_nm)
    if tuple(layer.scale[-2:]) != geometry["scale"]:
        layer.scale = (*layer.scale[:-2], *geometry["scale"])
    if "units" in geometry:
        layer.units = (*tuple(layer.units)[:-2], *geometry["units"])
    layer.metadata = {**layer.metadata, **metadata}


def show_layers(viewer: napari.Viewer, layers: list[LayerData]) -> list[Layer]:
    """Add the layers, or replace the data, scale and metadata of those already there (the labels
    layer of an image segmented again keeps its place and colours)."""
    shown = []
    for data, kwargs, kind in layers:
        existing = _by_name(viewer, kwargs["name"])
        if isinstance(existing, LAYER_TYPES[kind]):
            existing.data = data
            existing.scale = kwargs["scale"]
            if "units" in kwargs:
                existing.units = kwargs["units"]
            existing.metadata = {**existing.metadata, **kwargs["metadata"]}
            shown.append(existing)
        else:
            if existing is not None:
                viewer.layers.remove(existing)
            shown.append(viewer.add_layer(Layer.create(data, kwargs, kind)))
    return shown
