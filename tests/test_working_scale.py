"""A run's working resolution (``data.scale``): training reads resampled images, validation and
inference predict at that resolution and return maps, labels and sizes on the native grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from conftest import train_tiny
from sagegan.data.calibration import PixelSize
from sagegan.data.dataset import Sample
from sagegan.data.resample import check_scale, resample_sample
from sagegan.errors import ConfigError
from sagegan.infer import segment_images
from sagegan.infer.scaling import predict_at_scale
from sagegan.infer.tiling import Prediction
from sagegan.train import config_from_cli
from sagegan.train.dataset_fingerprint import fingerprint
from sagegan.train.initial_weights import read_initial_segmenter, with_init_architecture
from sagegan.train.planning import make_plan, plan_run
from sagegan.train.planning_rules import plan_scale


def _discs(shape=(64, 96), radius=9, spacing=24) -> np.ndarray:
    """Instance labels of a row of separate discs."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, np.int32)
    for index, col in enumerate(range(spacing // 2, shape[1], spacing), start=1):
        labels[(yy - shape[0] // 2) ** 2 + (xx - col) ** 2 <= radius**2] = index
    return labels


def _sample(labels: np.ndarray) -> Sample:
    image = np.where(labels > 0, 0.8, -0.8).astype(np.float32)
    path = Path("disc.png")
    return Sample("disc", image, labels, PixelSize(2.0, "test"), 0, path, path)


def test_a_scale_outside_its_range_is_a_one_line_error():
    for bad in (0.1, 5.0):
        with pytest.raises(ConfigError, match=r"data\.scale"):
            check_scale(bad)
        with pytest.raises(ConfigError, match=r"data\.scale"):
            config_from_cli("tiny", None, {"data.scale": bad})
    assert config_from_cli("tiny", None, {"data.scale": 0.5}).data.scale == 0.5


def test_a_resampled_sample_keeps_its_particles_and_its_calibration():
    labels = _discs()
    sample = _sample(labels)
    assert resample_sample(sample, 1.0) is sample
    half = resample_sample(sample, 0.5)
    assert half.image.shape == half.labels.shape == (32, 48)
    assert set(np.unique(half.labels)) == set(np.unique(labels))  # no particle lost or invented
    assert half.pixel_size.nm == pytest.approx(4.0)  # each pixel now spans twice the length
    areas = np.bincount(half.labels.ravel())[1:]
    assert np.allclose(areas, np.bincount(labels.ravel())[1:] / 4, rtol=0.2)
    assert half.image.min() >= -0.8 and half.image.max() <= 0.8  # area-weighted, no overshoot


def test_prediction_at_a_scale_runs_on_the_resampled_image_and_returns_native_maps():
    labels = _discs()
    image = _sample(labels).image
    seen = []

    def predict(pixels: np.ndarray) -> Prediction:
        seen.append(pixels.shape)
        foreground = (pixels > 0).astype(np.float32)
        return Prediction(foreground, None, boundary=np.zeros_like(foreground))

    prediction = predict_at_scale(predict, image, 0.5)
    assert seen == [(32, 48)]
    assert prediction.probability.shape == prediction.boundary.shape == labels.shape
    assert prediction.attention is None and prediction.centre is None
    predicted, truth = prediction.probability > 0.5, labels > 0
    assert (predicted & truth).sum() / (predicted | truth).sum() > 0.9
    assert predict_at_scale(predict, image, 1.0).probability.shape == labels.shape
    assert seen[-1] == labels.shape


def test_the_smallest_object_is_planned_in_native_pixels():
    labels = _discs((128, 192), radius=18, spacing=48)
    native = _sample(labels)
    half = resample_sample(native, 0.5)
    at_native = make_plan(fingerprint([native.image], [native.labels]), "cpu", 100)
    at_half = make_plan(fingerprint([half.image], [half.labels]), "cpu", 100, scale=0.5)
    assert at_half.min_size_px == pytest.approx(at_native.min_size_px, rel=0.15)
    assert at_half.depth <= at_native.depth  # particles half as wide need no deeper network


def test_a_run_trained_at_half_resolution_segments_on_the_native_grid(tmp_path):
    overrides = {"data.scale": 0.5, "data.patch_size": [32, 32]}
    data, run = train_tiny(tmp_path, overrides)
    saved = json.loads((run / "best.json").read_text())["config"]
    assert saved["data"]["scale"] == 0.5
    images = sorted((data / "images").iterdir())[:1]
    out = tmp_path / "seg"
    summary = segment_images(images, run, out, progress=False)
    assert summary.ok
    stem = images[0].stem
    assert tifffile.imread(out / f"{stem}_prob.tif").shape == (64, 64)
    assert tifffile.imread(out / f"{stem}_labels.tif").shape == (64, 64)
    assert json.loads((out / f"{stem}.json").read_text())["scale"] == 0.5
    # fine-tuning it keeps the resolution it was trained at, unless the config sets one
    init = read_initial_segmenter(config_from_cli("auto", None, {"model.init": str(run)}))
    assert init.scale == 0.5
    planned = with_init_architecture(config_from_cli("auto"), init)
    assert planned.data.scale == 0.5 and "data.scale" in planned.plan.keep
    given = with_init_architecture(config_from_cli("auto", None, {"data.scale": 1.0}), init)
    assert given.data.scale == 1.0


def _grid_of_squares(side: int, gap: int, shape=(512, 512)) -> np.ndarray:
    """Instance labels of ``side``-px squares in rows, ``gap`` px apart in each row (1: the
    binary masks' way of keeping touching particles apart) and 8 px between rows."""
    labels = np.zeros(shape, np.int32)
    index = 0
    for row in range(4, shape[0] - side, side + 8):
        for col in range(4, shape[1] - side, side + gap):
            index += 1
            labels[row : row + side, col : col + side] = index
    return labels


def _planned_scale(labels: np.ndarray) -> tuple[float, str | None]:
    return plan_scale(fingerprint([_sample(labels).image], [labels]))


def test_the_plan_halves_the_resolution_only_for_large_particles_without_gaps():
    scale, reason = _planned_scale(_grid_of_squares(18, gap=8))  # 20-px particles, apart
    assert scale == 0.5 and "half resolution" in reason
    assert _planned_scale(_grid_of_squares(8, gap=8)) == (1.0, None)  # 9-px particles
    scale, reason = _planned_scale(_grid_of_squares(18, gap=1))  # touching, kept apart by gaps
    assert scale == 1.0 and "1-px gaps" in reason
    small_images = _grid_of_squares(18, gap=8, shape=(384, 512))  # under two patches high
    assert _planned_scale(small_images) == (1.0, None)


def test_a_run_plans_at_the_resolution_it_chooses_unless_the_user_sets_one():
    labels = _grid_of_squares(18, gap=8)
    native = [_sample(labels)]
    fixed_precision = {"runtime.amp": "none"}  # kept: no step is timed
    config = config_from_cli("auto", None, {**fixed_precision, "plan.iterations": 10})
    plan, overrides = plan_run(config, native, native, torch.device("cpu"))
    assert overrides["data.scale"] == plan.scale == 0.5
    assert "half resolution" in plan.reasons[0]
    assert plan.fingerprint.median_shape == (256, 256)  # planned on the resampled images
    config = config_from_cli("auto", None, {**fixed_precision, "data.scale": 1.0})
    plan, overrides = plan_run(config, native, native, torch.device("cpu"))
    assert "data.scale" not in overrides and plan.scale == 1.0
    assert plan.fingerprint.median_shape == (512, 512)
