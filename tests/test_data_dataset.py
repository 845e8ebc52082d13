"""Loading samples and the torch Dataset: cropping, calibration, determinism with workers."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from torch.utils.data import DataLoader

from sagegan.data.augment import AugmentConfig
from sagegan.data.dataset import Sample, SegmentationDataset, load_sample, worker_init_fn
from sagegan.data.pairing import Pair, find_pairs
from sagegan.errors import ConfigError, DataError

BAR_ROWS = 12


def _write_pair(root, stem: str, seed: int, bar: bool = False, shape=(72, 64)) -> Pair:
    rng = np.random.default_rng(seed)
    image = rng.normal(90, 8, shape)
    mask = np.zeros(shape, np.uint8)
    for _ in range(6):
        y, x = rng.integers(4, shape[0] - 20), rng.integers(4, shape[1] - 8)
        mask[y : y + 5, x : x + 5] = 255
    image[mask > 0] = 180
    if bar:
        image[-BAR_ROWS:] = 0
        image[-BAR_ROWS + 3 : -BAR_ROWS + 6, 5:60:9] = 255
    image_path = root / "images" / f"{stem}.tif"
    mask_path = root / "masks" / f"{stem}.png"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    per_cm = 1e7 / 4.0  # 4 nm pixels in the resolution tags
    tifffile.imwrite(
        image_path,
        np.clip(image, 0, 255).astype(np.uint8),
        resolution=(per_cm, per_cm),
        resolutionunit="CENTIMETER",
    )
    Image.fromarray(mask).save(mask_path)
    return Pair(stem, image_path, mask_path)


@pytest.fixture
def samples(tmp_path) -> list[Sample]:
    pairs = [_write_pair(tmp_path, f"s{i}", seed=i, bar=i == 0) for i in range(3)]
    return [load_sample(pair) for pair in pairs]


def test_load_sample_crops_bar_normalises_and_calibrates(samples):
    first = samples[0]
    assert first.databar_rows == BAR_ROWS
    assert first.image.shape == first.labels.shape == (72 - BAR_ROWS, 64)
    assert first.image.dtype == np.float32 and first.labels.dtype == np.int32
    assert first.image.min() == -1.0 and first.image.max() == 1.0
    assert first.pixel_size.nm == pytest.approx(4.0) and first.mask_kind == "binary"
    assert samples[1].databar_rows == 0 and samples[1].image.shape == (72, 64)


def test_load_sample_overrides(tmp_path):
    pair = _write_pair(tmp_path, "a", seed=0, bar=True)
    sample = load_sample(pair, databar="none", pixel_size_nm=2.5)
    assert sample.databar_rows == 0 and sample.image.shape == (72, 64)
    assert sample.pixel_size.nm == 2.5 and sample.pixel_size.source == "user override"
    assert load_sample(pair, databar=5).image.shape == (67, 64)
    with pytest.raises(ConfigError):
        load_sample(pair, pixel_size_nm=-1.0)


def test_load_sample_without_mask_and_with_mismatch(tmp_path):
    pair = _write_pair(tmp_path, "a", seed=0)
    assert load_sample(Pair("a", pair.image, None)).labels is None
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(pair.mask)
    with pytest.raises(DataError, match="does not match"):
        load_sample(pair)


def test_real_tio2_sample(tio2_sem):
    pair = next(p for p in find_pairs(tio2_sem) if p.stem == "1908248")
    sample = load_sample(pair)
    assert sample.databar_rows == 56 and sample.image.shape == (712, 1024)
    assert sample.pixel_size.nm == pytest.approx(7.344)
    assert sample.labels.max() > 50


def test_items_have_expected_tensors(samples):
    dataset = SegmentationDataset(samples, patch_size=32, augment=AugmentConfig(), seed=1)
    item = dataset[0]
    assert item["image"].shape == item["mask"].shape == item["valid"].shape == (1, 32, 32)
    assert item["image"].dtype == torch.float32 and item["labels"].dtype == torch.int64
    assert item["image"].min() >= -1 and item["image"].max() <= 1
    assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(item["mask"], (item["labels"] > 0).float())
    assert item["stem"] == "s0"


def test_randomness_keyed_by_seed_epoch_index(samples):
    dataset = SegmentationDataset(samples, (32, 32), AugmentConfig(), samples_per_epoch=6, seed=3)
    assert len(dataset) == 6 and dataset[4]["stem"] == "s1"
    dataset.set_epoch(2)
    first = dataset[4]["image"]
    dataset.set_epoch(3)
    other_epoch = dataset[4]["image"]
    again = SegmentationDataset(samples, (32, 32), AugmentConfig(), samples_per_epoch=6, seed=3)
    again.set_epoch(2)
    assert torch.equal(again[4]["image"], first)
    assert not torch.equal(other_epoch, first)
    with pytest.raises(IndexError):
        dataset[6]


def test_same_batches_with_and_without_workers(samples):
    dataset = SegmentationDataset(
        samples, (24, 24), AugmentConfig(), samples_per_epoch=8, foreground_bias=0.5, seed=5
    )
    dataset.set_epoch(1)

    def batches(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(
            dataset, batch_size=4, num_workers=workers, worker_init_fn=worker_init_fn
        )
        return [batch["image"] for batch in loader]

    serial, parallel = batches(0), batches(2)
    assert len(serial) == 2
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a, b)


def test_eval_variant_returns_whole_images(samples):
    dataset = SegmentationDataset(samples, patch_size=None)
    assert len(dataset) == 3
    item = dataset[0]
    assert item["image"].shape == (1, 72 - BAR_ROWS, 64)
    np.testing.assert_array_equal(item["image"][0].numpy(), samples[0].image)
    assert torch.all(item["valid"] == 1)
    item["image"].zero_()
    assert samples[0].image.max() == 1.0  # items are copies


def test_patch_larger_than_image_is_padded_invalid(samples):
    item = SegmentationDataset(samples, patch_size=(96, 80), seed=0)[1]
    assert item["image"].shape == (1, 96, 80)
    assert item["valid"].sum() == 72 * 64
    assert torch.all(item["mask"][item["valid"] == 0] == 0)


def test_dataset_rejects_bad_input(samples):
    with pytest.raises(ConfigError):
        SegmentationDataset([], patch_size=32)
    no_mask = Sample("x", samples[0].image, None, None, 0, samples[0].image_path, None)
    with pytest.raises(ConfigError, match="without masks"):
        SegmentationDataset([no_mask], patch_size=32)


def test_worker_init_fn_sets_one_thread():
    before = torch.get_num_threads()
    try:
        worker_init_fn(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
