"""napari layer data of sagegan's images and predictions, in physical units (no Qt, no napari).

Each builder returns napari ``LayerData`` tuples ``(data, kwargs, layer_type)``. A calibrated
image (sagegan's calibration rule, `sagegan.data.calibration`) gets ``scale`` = (pixel size,
pixel size) with ``units`` nm, so that napari's scale bar and measurements read nanometres; an
uncalibrated one keeps scale 1 (pixels). Layers carry in ``metadata`` what the widget needs later:
the pixel size, the source file and, for the prediction layers, the image they belong to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sagegan.data.calibration import PixelSize
from sagegan.infer.overlays import OVERLAY_COLORMAP
from sagegan.napari_plugin.prediction import ImagePrediction

LayerData = tuple[Any, dict[str, Any], str]

PIXEL_SIZE_KEY = "sagegan_pixel_size_nm"  # float, or None when uncalibrated
PIXEL_SOURCE_KEY = "sagegan_pixel_size_source"
SOURCE_KEY = "sagegan_source"  # the image file the layer was read from (str)
IMAGE_KEY = "sagegan_image"  # on prediction layers: the name of their image layer
MODEL_KEY = "sagegan_model"
SUFFIXES = {"labels": "labels", "probability": "probability", "attention": "attention"}


def layer_name(image_name: str, kind: str) -> str:
    """The name of the ``kind`` (labels, probability, attention) layer of an image layer."""
    return f"{image_name} {SUFFIXES[kind]}"


def physical_geometry(pixel_size: PixelSize | float | None) -> dict[str, Any]:
    """The ``scale`` (and ``units`` when calibrated) of a 2-D layer with this pixel size."""
    nm = pixel_size.nm if isinstance(pixel_size, PixelSize) else pixel_size
    if nm is None:
        return {"scale": (1.0, 1.0)}
    return {"scale": (float(nm), float(nm)), "units": ("nm", "nm")}


def calibration_metadata(pixel_size: PixelSize | None) -> dict[str, Any]:
    """The pixel size and its source as layer metadata."""
    return {
        PIXEL_SIZE_KEY: None if pixel_size is None else pixel_size.nm,
        PIXEL_SOURCE_KEY: None if pixel_size is None else pixel_size.source,
    }


def image_layer(
    image: np.ndarray, name: str, pixel_size: PixelSize | None, source: Path | None = None
) -> LayerData:
    """An image layer in grey with its physical scale (and its file in metadata)."""
    metadata = {
        **calibration_metadata(pixel_size),
        SOURCE_KEY: None if source is None else str(source),
    }
    kwargs = {
        "name": name,
        "colormap": "gray",
        "metadata": metadata,
        **physical_geometry(pixel_size),
    }
    return image, kwargs, "image"


def prediction_layers(
    prediction: ImagePrediction, image_name: str | None = None
) -> list[LayerData]:
    """The probability, attention (networks with gates) and labels layers of ``prediction``, named
    after the image layer ``image_name`` (default: the prediction's name), labels last (on top,
    selected for editing)."""
    image_name = prediction.name if image_name is None else image_name
    common = {
        **physical_geometry(prediction.pixel_size),
        "metadata": {
            **calibration_metadata(prediction.pixel_size),
            IMAGE_KEY: image_name,
            MODEL_KEY: prediction.model,
        },
    }
    heat = {"contrast_limits": (0.0, 1.0), "blending": "additive", "opacity": 0.5}
    layers: list[LayerData] = [
        (
            prediction.probability,
            {
                **common,
                **heat,
                "name": layer_name(image_name, "probability"),
                "colormap": "magma",
                "visible": False,
            },
            "image",
        )
    ]
    if prediction.attention is not None:
        layers.append(
            (
                prediction.attention,
                {
                    **common,
                    **heat,
                    "name": layer_name(image_name, "attention"),
                    "colormap": OVERLAY_COLORMAP,
                    "visible": False,
                },
                "image",
            )
        )
    labels = {**common, "name": layer_name(image_name, "labels"), "opacity": 0.5}
    layers.append((prediction.labels, labels, "labels"))
    return layers
