"""The offline synthetic bank (``data.bank``, issue 17): pretraining cuts a share of its patches
from a folder of synthetic pairs, never reads a held-out image and resumes exactly."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest
import torch

import sagegan.data.dataset
import sagegan.data.io
from conftest import killed_then_resumed, log_without_timings, same_weights
from sagegan.data.bank import open_bank
from sagegan.data.dataset import SegmentationDataset, load_sample
from sagegan.data.mixing import BankMixDataset
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import make_split, save_split
from sagegan.errors import ConfigError, DataError
from sagegan.models.checkpoint import resolve_checkpoint
from sagegan.synth import write_dataset
from sagegan.train import engine
from sagegan.train.api import train
from sagegan.train.config import TrainConfig, config_from_cli

QUIET = {"runtime.grid_every": 100, "runtime.attention_every": 100, "instances.tune": False}


def tiny(bank: Path | None, **overrides: object) -> TrainConfig:
    values = {"gan.epochs": 0, "data.samples_per_epoch": 16, **QUIET, **overrides}
    if bank is not None:
        values["data.bank"] = str(bank)
    return config_from_cli("tiny", None, values)


def _synth_bank(folder: Path, n: int, seed: int, prefix: str = "bank") -> Path:
    """A ``sagegan synth`` folder whose pairs are renamed ``<prefix>_NNNN``."""
    write_dataset(folder, n=n, size=(64, 64), seed=seed, progress=False)
    for part in ("images", "masks", "labels"):
        for path in (folder / part).iterdir():
            path.rename(path.with_name(path.name.replace("synth", prefix)))
    return folder


def _generated_bank(folder: Path, data_dir: Path, masks: list[str]) -> Path:
    """A ``sagegan generate`` layout (images/, masks/, labels/, meta.json) with one pair
    ``<mask>_s0`` per real mask name in ``masks`` (its image is the real one: enough here)."""
    entries = []
    for mask in masks:
        name = f"{mask}_s0"
        for part, suffix in (("images", ".tif"), ("masks", ".png"), ("labels", ".tif")):
            (folder / part).mkdir(parents=True, exist_ok=True)
            shutil.copy(data_dir / part / f"{mask}{suffix}", folder / part / f"{name}{suffix}")
        entries.append({"name": name, "source": "file", "mask": mask, "style": 0})
    sources = {"masks_dir": str(data_dir / "masks"), "file": len(masks), "rearranged": 0}
    meta = {"sources": sources, "count": len(entries), "pairs": entries}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("real")
    write_dataset(root, n=10, size=(64, 64), seed=0, progress=False)
    return root


@pytest.fixture(scope="module")
def split(data_dir):
    stems = sorted(p.stem for p in (data_dir / "images").iterdir())
    return make_split(stems, seed=0, val_fraction=0.25, test_fraction=0.25)  # the tiny preset's


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    return _synth_bank(tmp_path_factory.mktemp("bank") / "bank", n=6, seed=7)


def _mixed(bank_dir: Path, data_dir: Path, split, fraction: float, n: int) -> BankMixDataset:
    opened = open_bank(bank_dir, data_dir, [*split.val, *split.test])
    real = [load_sample(p) for p in find_pairs(data_dir) if p.stem in split.train]
    dataset = SegmentationDataset(real, (32, 32), samples_per_epoch=n, seed=3)
    return BankMixDataset(dataset, opened.load(), fraction)


def test_bank_share_follows_the_fraction_and_real_items_are_unchanged(bank, data_dir, split):
    mixed = _mixed(bank, data_dir, split, 0.3, 2000)
    mixed.set_epoch(4)
    chosen = [mixed.bank_index(i) for i in range(len(mixed))]
    drawn = [c for c in chosen if c is not None]
    assert abs(len(drawn) / len(chosen) - 0.3) < 0.04
    assert set(drawn) == set(range(len(mixed.bank)))  # every bank pair is used
    index = chosen.index(None)
    assert torch.equal(mixed[index]["image"], mixed.real[index]["image"])
    index = next(i for i, c in enumerate(chosen) if c is not None)
    assert mixed[index]["stem"] == mixed.bank[chosen[index]].stem
    assert mixed[index]["stem"].startswith("bank:bank_")
    never = _mixed(bank, data_dir, split, 0.0, 50)
    assert len(never) == 50 and all(never.bank_index(i) is None for i in range(50))


def test_training_with_a_bank_draws_its_pairs_in_pretraining_only(
    bank, data_dir, split, tmp_path, monkeypatch
):
    stems, datasets = [], []
    original_item, original_loader = SegmentationDataset.item, engine.make_loader

    def item(self, sample, rng):
        stems.append(sample.stem)
        return original_item(self, sample, rng)

    def make_loader(dataset, *args, **kwargs):
        datasets.append(type(dataset).__name__)
        return original_loader(dataset, *args, **kwargs)

    monkeypatch.setattr(SegmentationDataset, "item", item)
    monkeypatch.setattr(engine, "make_loader", make_loader)
    result = train(data_dir, tmp_path / "run", tiny(bank, **{"gan.epochs": 1}))
    drawn = [stem for stem in stems if stem.startswith("bank:")]
    assert 0.25 < len(drawn) / (2 * 16) < 0.75  # pretraining: 2 epochs of 16 patches
    assert len(stems) == 3 * 16 and not any(s.startswith("bank:") for s in stems[32:])
    assert datasets == ["BankMixDataset", "BankMixDataset", "SegmentationDataset"]
    real_read = {stem for stem in result.stems_read if not stem.startswith("bank:")}
    assert real_read == set(split.train) | set(split.val)
    assert result.stems_read - real_read == set(drawn)  # the split guard saw the bank's items too
    info = json.loads((resolve_checkpoint(tmp_path / "run", "last") / "info.json").read_text())
    assert info["bank"] == {"folder": str(bank.resolve()), "pairs": 6}
    assert info["config"]["data"]["bank"] == str(bank)


def test_a_run_at_half_resolution_draws_its_bank_at_half_resolution(
    bank, data_dir, tmp_path, monkeypatch
):
    shapes = {}
    original_item = SegmentationDataset.item

    def item(self, sample, rng):
        shapes.setdefault(sample.stem.startswith("bank:"), set()).add(sample.image.shape)
        return original_item(self, sample, rng)

    monkeypatch.setattr(SegmentationDataset, "item", item)
    half = {"data.scale": 0.5, "data.patch_size": [32, 32], "pretrain.epochs": 1}
    train(data_dir, tmp_path / "run", tiny(bank, **half))
    assert shapes == {True: {(32, 32)}, False: {(32, 32)}}  # 64-px bank and real images


def test_a_bank_run_never_reads_a_test_image(data_dir, split, tmp_path, monkeypatch):
    bank_dir = _generated_bank(tmp_path / "generated", data_dir, split.train[:3])
    read: list[Path] = []
    for module in (sagegan.data.io, sagegan.data.dataset):
        original = module.read_image

        def recording(path, original=original):
            read.append(Path(path).resolve())
            return original(path)

        monkeypatch.setattr(module, "read_image", recording)
    train(data_dir, tmp_path / "run", tiny(bank_dir, **{"pretrain.epochs": 1}))
    test_images = {p.resolve() for p in (data_dir / "images").iterdir() if p.stem in split.test}
    assert test_images and not test_images & set(read)
    bank_images = {p.resolve() for p in (bank_dir / "images").iterdir()}
    assert bank_images <= set(read)


@pytest.mark.parametrize("part", ["test", "val"])
def test_a_bank_holding_a_held_out_name_is_refused(bank, data_dir, split, tmp_path, part):
    leaky = tmp_path / "leaky"
    shutil.copytree(bank, leaky)
    stem = getattr(split, part)[0]
    for folder, suffix in (("images", ".tif"), ("masks", ".png"), ("labels", ".tif")):
        shutil.copy(data_dir / folder / f"{stem}{suffix}", leaky / folder / f"{stem}{suffix}")
    _assert_refused(data_dir, tmp_path / "run", leaky, f"{leaky}: data.bank: pair '{stem}'")


def test_a_bank_generated_from_a_held_out_mask_is_refused(data_dir, split, tmp_path):
    generated = _generated_bank(tmp_path / "generated", data_dir, [split.train[0], split.test[0]])
    expected = f"{generated / 'meta.json'}: data.bank: pair '{split.test[0]}_s0' was generated"
    _assert_refused(data_dir, tmp_path / "run", generated, expected)


def test_a_bank_linking_into_the_dataset_is_refused(bank, data_dir, split, tmp_path):
    linked = tmp_path / "linked"
    shutil.copytree(bank, linked)
    image = next((linked / "images").iterdir())
    image.unlink()
    image.symlink_to(data_dir / "images" / f"{split.train[0]}.tif")
    _assert_refused(data_dir, tmp_path / "run", linked, f"{image}: data.bank: links to")


def test_a_bank_whose_generator_trained_on_a_held_out_image_is_refused(data_dir, split, tmp_path):
    generated = _generated_bank(tmp_path / "generated", data_dir, [split.train[0]])
    generator_run = tmp_path / "generator_run"
    generator_run.mkdir()
    trained_on = dataclasses.replace(
        split, train=[split.train[0], split.test[0]], test=split.test[1:]
    )
    save_split(trained_on, generator_run / "split.json")
    meta = json.loads((generated / "meta.json").read_text())
    (generated / "meta.json").write_text(json.dumps({**meta, "model": str(generator_run)}))
    expected = f"{generated}: data.bank: the bank's generator ({generator_run}) trained on"
    _assert_refused(data_dir, tmp_path / "run", generated, expected)


@pytest.mark.parametrize("where", ["itself", "inside"])
def test_a_bank_in_the_dataset_folder_is_refused(bank, data_dir, tmp_path, where):
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    inside = data if where == "itself" else data / "synthetic"
    if where == "inside":
        shutil.copytree(bank, inside)
    problem = "is the dataset folder" if where == "itself" else "is inside the dataset folder"
    _assert_refused(data, tmp_path / "run", inside, f"{inside}: data.bank: the bank {problem}")


def test_a_missing_or_empty_bank_is_refused(data_dir, tmp_path):
    missing = tmp_path / "none"
    _assert_refused(data_dir, tmp_path / "run", missing, f"{missing}: data.bank: bank folder not")
    (tmp_path / "empty").mkdir()
    _assert_refused(data_dir, tmp_path / "run", tmp_path / "empty", "data.bank: no images found")


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5, math.nan])
def test_bank_fraction_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(ConfigError, match=r"^data\.bank_fraction must be in \[0, 1\), got"):
        tiny(None, **{"data.bank_fraction": fraction})


def test_a_blank_bank_name_is_refused():
    with pytest.raises(ConfigError, match=r"^data\.bank: give a folder of synthetic pairs"):
        tiny(None, **{"data.bank": " "})


def _assert_refused(data: Path, run: Path, bank_dir: Path, expected: str) -> None:
    with pytest.raises(DataError) as caught:
        train(data, run, tiny(bank_dir))
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert not run.exists()  # refused before any training: nothing left behind


def test_a_bank_run_resumes_exactly(bank, data_dir, tmp_path, monkeypatch):
    config = tiny(bank, **{"pretrain.epochs": 3})
    straight = train(data_dir, tmp_path / "straight", config).run_dir
    resumed = tmp_path / "run"
    killed_then_resumed(monkeypatch, data_dir, resumed, config, 2)
    assert same_weights(straight, resumed, ("segmenter",), ("last", "best"))
    assert log_without_timings(resumed) == log_without_timings(straight)
