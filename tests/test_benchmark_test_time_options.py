"""benchmarks/test_time_options.py: upsampling to a particle radius and inversion averaging."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from skimage.draw import disk

from conftest import benchmark_script
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.infer.instances import run_split_options
from sagegan.models.checkpoint import load_model, read_training_info


def test_the_typical_radius_is_that_of_the_particles_holding_most_area():
    script = benchmark_script("test_time_options")
    labels = np.zeros((120, 160), dtype=np.int32)
    for index, (row, col) in enumerate([(30, 30), (30, 90), (90, 60)], start=1):
        labels[disk((row, col), 20)] = index
    labels[disk((100, 140), 4)] = 4  # a speck holds little of the area
    assert abs(script.inscribed_radius(labels) - 20) <= 1
    assert script.inscribed_radius(np.zeros((8, 8), dtype=np.int32)) == 0.0


def test_upsampled_predictions_come_back_on_the_native_grid(tiny_run):
    script = benchmark_script("test_time_options")
    data, run = tiny_run
    model, info = load_model(run, "best")
    split = run_split_options(read_training_info(info["path"]))
    sample = load_sample(find_pairs(data)[0])
    probability, heads = script.predict_scaled(model, sample.image, 2.0)
    assert probability.shape == sample.image.shape and set(heads) == {"boundary", "centre"}
    assert all(values is None or values.shape == sample.image.shape for values in heads.values())
    assert probability.min() >= 0.0 and probability.max() <= 1.0
    options = SimpleNamespace(max_scale=1.5, inversion=True)
    row = script.score_image(model, sample, split, [0.5, 1000.0], options)
    # a target under the typical radius leaves the image native; a large one is capped
    assert row["radius 0.5"]["scale"] == 1.0
    assert row["radius 0.5"]["dice"] == row["native"]["dice"]
    assert row["radius 1000"]["scale"] == 1.5
    assert set(row) == {"radius_px", "native", "radius 0.5", "radius 1000", "inversion"}
    assert all(0.0 <= row[key]["f1@0.5"] <= 1.0 for key in ("native", "radius 1000", "inversion"))
