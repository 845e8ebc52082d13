"""Attention overlays of a trained segmenter on one image (``sagegan attention``, paper Fig. 7):
the image, the outlines of the predicted mask (yellow) over the annotated instances (cyan), and
the finest attention map as a heat map over the image (`attention_overlay`, the one ``sagegan
segment`` writes); every panel RGB uint8 at the image's native resolution."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from scipy.ndimage import binary_dilation
from skimage.segmentation import find_boundaries
from torch import nn

from sagegan.data.dataset import Sample
from sagegan.errors import ConfigError
from sagegan.infer.options import PredictionOptions

OVERLAY_COLORMAP = "inferno"
OVERLAY_ALPHA = 0.4
OVERLAY_BLOCK_ROWS = 256
PREDICTED_OUTLINE_RGB = (1.0, 0.85, 0.0)
TRUTH_OUTLINE_RGB = (0.0, 0.9, 1.0)
OUTLINE_PIXELS_PER_PX = 1 / 400  # outline width per image pixel, so it survives downscaling


def overlay_panels(
    model: nn.Module,
    info: dict[str, Any],
    sample: Sample,
    options: PredictionOptions,
    scale: float = 1.0,
) -> list[np.ndarray]:
    """[image, outlines, attention] of ``sample`` as predicted by ``model`` with the tiling of
    ``options`` at the model's working resolution ``scale`` (predicted mask: ``probability >
    options.threshold``). ``info`` is the model's (`load_model`): a segmenter without attention
    gates is a ConfigError naming its file."""
    prediction = options.predict(model, sample.image, scale)
    if prediction.attention is None:
        raise ConfigError(
            f"{info['path']}: the {info.get('model')} segmenter has no attention gates"
        )
    return [
        gray_rgb(sample.image),
        outlines_rgb(sample.image, prediction.probability > options.threshold, sample.labels),
        attention_overlay(sample.image, prediction.attention),
    ]


def gray_rgb(image: np.ndarray) -> np.ndarray:
    """RGB uint8 of a [-1, 1] grayscale image."""
    gray = np.round((np.clip(image, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def outlines_rgb(image: np.ndarray, predicted: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
    """RGB uint8 image with annotated instance outlines (cyan) under predicted ones (yellow)."""
    rgb = gray_rgb(image)
    width = max(1, round(max(image.shape) * OUTLINE_PIXELS_PER_PX))
    layers = [] if labels is None else [(labels, TRUTH_OUTLINE_RGB)]
    for mask, colour in [*layers, (predicted, PREDICTED_OUTLINE_RGB)]:
        edges = find_boundaries(mask, mode="inner")
        if width > 1:
            edges = binary_dilation(edges, iterations=width - 1)
        rgb[edges] = np.round(np.array(colour) * 255).astype(np.uint8)
    return rgb


def attention_overlay(image: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """RGB uint8 heat map of ``attention`` ([0, 1]) blended over a [-1, 1] grayscale image.

    Built ``OVERLAY_BLOCK_ROWS`` rows at a time in float32 from the colormap's lookup table (the
    colours matplotlib itself gives), so a large image needs little more than the uint8 result.
    """
    colormap = colormaps[OVERLAY_COLORMAP]
    lut = colormap(np.arange(colormap.N))[:, :3].astype(np.float32) * np.float32(OVERLAY_ALPHA)
    overlay = np.empty((*image.shape, 3), dtype=np.uint8)
    for top in range(0, image.shape[0], OVERLAY_BLOCK_ROWS):
        rows = slice(top, top + OVERLAY_BLOCK_ROWS)
        gray = (np.clip(image[rows], -1.0, 1.0, dtype=np.float32) + 1.0) * np.float32(
            (1.0 - OVERLAY_ALPHA) / 2.0
        )
        level = np.clip(attention[rows], 0.0, 1.0, dtype=np.float32) * colormap.N
        index = np.minimum(level.astype(np.intp), colormap.N - 1)
        blended = lut[index] + gray[..., None]
        overlay[rows] = np.round(blended * np.float32(255.0))
    return overlay
