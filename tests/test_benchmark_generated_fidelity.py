"""benchmarks/generated_fidelity.py: a segmenter on a generator's drawings and on real tiles."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from conftest import benchmark_script
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.models.checkpoint import load_model, read_training_info


def test_tiles_are_whole_patches_on_a_grid_and_a_small_image_is_padded_to_one():
    script = benchmark_script("generated_fidelity")
    assert script.tiles(96, 128, (64, 64)) == [
        (slice(0, 64), slice(0, 64)),
        (slice(0, 64), slice(64, 128)),
    ]
    spread = script.tiles(1000, 1000, (64, 64))  # a 15 x 15 grid
    assert len(spread) == script.MAX_TILES_PER_IMAGE
    assert spread[0] == (slice(0, 64), slice(0, 64))
    assert spread[-1] == (slice(896, 960), slice(896, 960))  # the last whole window
    assert script.tiles(40, 50, (64, 64)) == [(slice(0, 64), slice(0, 64))]
    small = np.ones((40, 50))
    grown = script.padded(small, (64, 64), "constant")
    assert grown.shape == (64, 64) and grown.sum() == small.sum()


def test_real_tiles_and_drawings_of_one_mask_are_scored_against_it(tiny_run):
    script = benchmark_script("generated_fidelity")
    data, run = tiny_run
    segmenter, info = load_model(run, "best-pretrain")
    config = read_training_info(info["path"])["config"]
    generator, file = script.online_generator(run, "last")
    assert file.name == "generator.safetensors"
    sample = load_sample(find_pairs(data)[0])
    options = SimpleNamespace(styles=2, seed=0)
    rows = script.image_rows(segmenter, generator, sample, config, options)
    assert rows and all(row["stem"] == sample.stem for row in rows)
    for row in rows:
        assert row["real"]["true_px"] == row["generated"]["true_px"] > 0
        assert all(0.0 <= row[kind]["dice"] <= 1.0 for kind in ("real", "generated"))
    windows = script.tiles(*sample.image.shape, tuple(config["data"]["patch_size"]))
    labelled = sum(np.count_nonzero(sample.labels[window]) for window in windows)
    assert 0 < sum(row["real"]["true_px"] for row in rows) <= labelled  # gaps only remove pixels
    assert script.image_rows(segmenter, generator, sample, config, options) == rows  # seeded
