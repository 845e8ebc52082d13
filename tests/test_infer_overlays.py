"""Attention-overlay panels of a segmenter on one image (`sagegan.infer.overlays`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import FixedLogits
from sagegan.data.dataset import Sample
from sagegan.errors import ConfigError
from sagegan.infer.options import PredictionOptions
from sagegan.infer.overlays import (
    PREDICTED_OUTLINE_RGB,
    TRUTH_OUTLINE_RGB,
    gray_rgb,
    outlines_rgb,
    overlay_panels,
)
from sagegan.models import build_model

OPTIONS = PredictionOptions(tile=(64, 64), overlap=0.25, threshold=0.5, device="cpu")

SHAPE = (48, 64)


def _sample(labels: np.ndarray | None) -> Sample:
    image = np.linspace(-1.0, 1.0, SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    return Sample("a", image, labels, None, 0, Path("a.png"), None)


def _disc(row: int, col: int, radius: int) -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (yy - row) ** 2 + (xx - col) ** 2 <= radius**2


def _rgb(colour: tuple[float, float, float]) -> np.ndarray:
    return np.round(np.array(colour) * 255).astype(np.uint8)


def test_gray_rgb_maps_the_intensity_range_to_bytes():
    rgb = gray_rgb(np.array([[-1.0, 0.0, 1.0, 3.0]], dtype=np.float32))
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 255]
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_outlines_draw_predicted_over_annotated():
    image = np.zeros(SHAPE, dtype=np.float32)
    truth = _disc(24, 16, 8).astype(np.int32)
    predicted = _disc(24, 16, 8) | _disc(24, 48, 8)
    rgb = outlines_rgb(image, predicted, truth)
    yellow, cyan = _rgb(PREDICTED_OUTLINE_RGB), _rgb(TRUTH_OUTLINE_RGB)
    assert (rgb[24, 16 - 8] == yellow).all()  # both outlines there: the prediction is on top
    assert (rgb[24, 48 - 8] == yellow).all()
    assert (rgb[24, 16] == gray_rgb(image)[24, 16]).all()  # inside: the image
    only_truth = outlines_rgb(image, np.zeros(SHAPE, dtype=bool), truth)
    assert (only_truth[24, 16 - 8] == cyan).all()
    no_truth = outlines_rgb(image, predicted, None)
    assert not (no_truth == cyan).all(axis=2).any()


def test_panels_of_an_attention_segmenter():
    torch.manual_seed(0)
    model = build_model("attention_unet", base_width=4, depth=2)
    info = {"path": "run/segmenter.safetensors", "model": "attention_unet"}
    panels = overlay_panels(model, info, _sample(None), OPTIONS)
    assert len(panels) == 3
    for panel in panels:
        assert panel.shape == (*SHAPE, 3) and panel.dtype == np.uint8
    assert np.array_equal(panels[0], gray_rgb(_sample(None).image))
    assert not np.array_equal(panels[2], panels[0])  # the heat map is drawn over the image


def test_a_segmenter_without_gates_is_refused():
    info = {"path": "plain/segmenter.safetensors", "model": "unet"}
    model = FixedLogits(np.zeros(SHAPE, dtype=np.float32))
    with pytest.raises(ConfigError, match=r"plain/segmenter\.safetensors: the unet segmenter"):
        overlay_panels(model, info, _sample(None), OPTIONS)
