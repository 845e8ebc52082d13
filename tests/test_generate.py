"""Synthetic pairs from a tiny trained generator, their realism against real images, and the
network-free realism statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from PIL import Image
from scipy import ndimage

from sagegan.data.io import read_image, read_mask, write_mask
from sagegan.errors import ConfigError, DataError
from sagegan.generate import generate_pairs
from sagegan.metrics.realism import realism_statistics
from sagegan.train import config_from_cli, train

QUIET = {"runtime.grid_every": 100, "runtime.attention_every": 100}


@pytest.fixture
def data_dir(tiny_run):
    return tiny_run[0]


@pytest.fixture
def run_dir(tiny_run):
    return tiny_run[1]


def _masks_dir(data_dir, tmp_path, count=3):
    """A folder with the first ``count`` masks of the dataset."""
    folder = tmp_path / "masks"
    for path in sorted((data_dir / "masks").iterdir())[:count]:
        write_mask(folder / path.name, read_mask(path))
    return folder


def test_pairs_are_written_with_the_source_masks(data_dir, run_dir, tmp_path):
    masks = _masks_dir(data_dir, tmp_path)
    out = tmp_path / "out"
    result = generate_pairs(run_dir, out, masks_dir=masks, styles_per_mask=2, progress=False)
    assert result.count == 3 * 2
    assert "generator.safetensors" in result.checkpoint.name
    for source in sorted(masks.iterdir()):
        expected = read_mask(source)
        for style in range(2):
            name = f"{source.stem}_s{style}"
            image = np.asarray(Image.open(out / "images" / f"{name}.png"))
            assert image.dtype == np.uint8 and image.shape == expected.shape
            assert np.array_equal(read_mask(out / "masks" / f"{name}.png") > 0, expected > 0)
            labels = tifffile.imread(out / "labels" / f"{name}.tif")
            assert labels.dtype == np.uint16 and labels.max() == expected.max()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["count"] == 6 and meta["sources"]["file"] == 3 and meta["seed"] == 0
    assert (out / "grid.png").stat().st_size > 0
    assert not (out / "realism.json").exists()


def test_styles_differ_and_a_seed_repeats_exactly(data_dir, run_dir, tmp_path):
    masks = _masks_dir(data_dir, tmp_path, count=1)
    options = {"masks_dir": masks, "styles_per_mask": 2, "progress": False}
    first = generate_pairs(run_dir, tmp_path / "a", seed=1, **options)
    again = generate_pairs(run_dir, tmp_path / "b", seed=1, **options)
    other = generate_pairs(run_dir, tmp_path / "c", seed=2, **options)
    images = [[read_image(image) for image, _ in r.pairs] for r in (first, again, other)]
    assert not np.array_equal(images[0][0], images[0][1])
    assert all(np.array_equal(a, b) for a, b in zip(images[0], images[1], strict=True))
    assert not np.array_equal(images[0][0], images[2][0])


def test_simulated_and_rearranged_masks(data_dir, run_dir, tmp_path):
    out = tmp_path / "sim"
    result = generate_pairs(run_dir, out, n_synth=2, styles_per_mask=1, progress=False)
    assert result.count == 2
    for image_path, mask_path in result.pairs:
        assert read_image(image_path).shape == (64, 64)  # the run's training patch size
        labels = tifffile.imread(out / "labels" / f"{mask_path.stem}.tif")
        assert labels.max() >= 1
        assert np.array_equal(read_mask(mask_path) > 0, labels > 0)
    masks = _masks_dir(data_dir, tmp_path)
    mixed = generate_pairs(
        run_dir,
        tmp_path / "mixed",
        masks_dir=masks,
        rearranged=2,
        n_synth=1,
        size=(48, 80),
        styles_per_mask=1,
        progress=False,
    )
    sources = json.loads((mixed.out / "meta.json").read_text())["sources"]
    assert (sources["file"], sources["rearranged"], sources["simulator"]) == (3, 2, 1)
    pasted = read_mask(mixed.out / "masks" / "rearranged_0000_s0.png")
    assert pasted.shape == (48, 80) and pasted.max() >= 1


def test_pretrain_only_run_is_a_config_error(data_dir, tmp_path):
    run = tmp_path / "pretrain-only"
    train(data_dir, run, config_from_cli("tiny", None, {**QUIET, "pretrain.epochs": 1}), "pretrain")
    with pytest.raises(ConfigError, match="no generator"):
        generate_pairs(run, tmp_path / "out", n_synth=1, progress=False)


def test_bad_options_are_refused(data_dir, run_dir, tmp_path):
    with pytest.raises(ConfigError, match="masks_dir"):
        generate_pairs(run_dir, tmp_path / "a", rearranged=2, progress=False)
    with pytest.raises(ConfigError, match="nothing to generate"):
        generate_pairs(run_dir, tmp_path / "a", progress=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("x")
    with pytest.raises(DataError, match="not empty"):
        generate_pairs(run_dir, busy, n_synth=1, progress=False)
    clashing = tmp_path / "clash"
    yy, xx = np.mgrid[:64, :64]
    write_mask(clashing / "simulator_0000.png", (yy - 30) ** 2 + (xx - 30) ** 2 < 50)
    with pytest.raises(DataError, match="simulator_0000"):
        generate_pairs(run_dir, tmp_path / "b", masks_dir=clashing, n_synth=1, progress=False)


def _textured_images(seed: int, count: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.tanh(rng.normal(0.0, 0.5, (64, 80))).astype(np.float32) for _ in range(count)]


def test_realism_is_ideal_for_identical_sets_and_worsens_with_changes():
    images = _textured_images(0)
    same = realism_statistics(images, images)
    assert same["intensity_w1"] == pytest.approx(0.0, abs=1e-12)
    assert same["histogram_intersection"] == pytest.approx(1.0)
    assert same["spectrum_log_l2"] == pytest.approx(0.0, abs=1e-12)
    fresh = realism_statistics(_textured_images(1), images)  # same process, other samples
    shifted = realism_statistics([np.clip(i + 0.3, -1, 1) for i in images], images)
    blurred = realism_statistics([ndimage.gaussian_filter(i, 2.0) for i in images], images)
    assert fresh["intensity_w1"] < 0.03 and fresh["spectrum_log_l2"] < 0.1
    assert 0.2 < shifted["intensity_w1"] <= 0.3 + 1e-6
    assert shifted["histogram_intersection"] < fresh["histogram_intersection"]
    assert blurred["spectrum_log_l2"] > 10 * fresh["spectrum_log_l2"]
    assert blurred["spectrum_log_l2"] > shifted["spectrum_log_l2"]


def test_realism_against_real_images_is_written(data_dir, run_dir, tmp_path):
    masks = _masks_dir(data_dir, tmp_path, count=2)
    result = generate_pairs(
        run_dir,
        tmp_path / "out",
        masks_dir=masks,
        styles_per_mask=1,
        real_dir=data_dir / "images",
        progress=False,
    )
    written = json.loads((result.out / "realism.json").read_text())
    assert written == result.realism
    assert written["generated_images"] == 2 and written["real_images"] == 8
    assert 0.0 < written["intensity_w1"] <= 2.0
    assert 0.0 <= written["histogram_intersection"] < 1.0
    # KID of a barely trained generator's images: far from the real images, within its spread
    assert written["kid"] > written["kid_std"] >= 0.0


def test_unmatchable_masks_fall_back_to_default_simulator_settings(run_dir, tmp_path, caplog):
    specks = tmp_path / "specks"
    write_mask(specks / "specks.png", np.eye(64))  # 1-px particles: no valid matched simulator
    result = generate_pairs(
        run_dir, tmp_path / "out", masks_dir=specks, n_synth=1, styles_per_mask=1, progress=False
    )
    assert result.count == 2
    assert "default settings" in caplog.text


def test_a_training_split_keeps_only_the_training_masks(data_dir, run_dir, tmp_path):
    split = json.loads((run_dir / "split.json").read_text())
    out = tmp_path / "out"
    result = generate_pairs(
        run_dir,
        out,
        masks_dir=data_dir / "masks",
        rearranged=2,
        styles_per_mask=1,
        progress=False,
        train_split=run_dir / "split.json",
    )
    meta = json.loads((out / "meta.json").read_text())
    rendered = {entry["mask"] for entry in meta["pairs"] if entry["source"] == "file"}
    assert rendered == set(split["train"])
    assert not rendered & set(split["val"] + split["test"])
    assert result.count == len(split["train"]) + 2
    assert meta["train_split"] == str(run_dir / "split.json")
    with pytest.raises(ConfigError, match="masks_dir"):
        generate_pairs(run_dir, tmp_path / "none", n_synth=1, train_split=run_dir / "split.json")
    test_only = tmp_path / "test_only"
    test_mask = next(p for p in (data_dir / "masks").iterdir() if p.stem == split["test"][0])
    write_mask(test_only / test_mask.name, read_mask(test_mask))
    with pytest.raises(DataError, match="training image"):
        generate_pairs(
            run_dir, tmp_path / "refused", masks_dir=test_only, train_split=run_dir / "split.json"
        )
