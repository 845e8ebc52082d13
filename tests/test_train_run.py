"""Whole training runs on tiny simulated data: both stages, outputs, split hygiene and failures."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sagegan.data.dataset
from sagegan.data.splits import make_split
from sagegan.errors import ConfigError, DataError
from sagegan.models.checkpoint import load_model
from sagegan.synth import write_dataset
from sagegan.train.api import train
from sagegan.train.config import TrainConfig, config_from_cli, load_yaml
from sagegan.train.guards import NonFiniteLossError, TestSplitAccessError


def tiny(**overrides: object) -> TrainConfig:
    quiet = {"runtime.grid_every": 100, "runtime.attention_every": 100}
    return config_from_cli("tiny", None, {**quiet, **overrides})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, n=10, size=(64, 64), seed=0, progress=False)
    return root


def _records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_two_stages_run_end_to_end_and_pretraining_improves_dice(data_dir, tmp_path, monkeypatch):
    read_paths = []
    original_read_image = sagegan.data.dataset.read_image

    def recording_read_image(path):
        read_paths.append(str(path))
        return original_read_image(path)

    monkeypatch.setattr(sagegan.data.dataset, "read_image", recording_read_image)
    config = config_from_cli("tiny", None, {"pretrain.epochs": 12, "data.samples_per_epoch": 8})
    run = tmp_path / "run"
    result = train(data_dir, run, config)

    pretrain = result.stages["pretrain"]
    assert pretrain.best_score > pretrain.initial["dice"] + 0.02
    assert set(result.stages) == {"pretrain", "gan"}
    records = _records(run)
    assert [(r["stage"], r["epoch"]) for r in records][:2] == [("pretrain", -1), ("pretrain", 0)]
    gan_records = [r for r in records if r["stage"] == "gan" and r["epoch"] >= 0]
    assert len(gan_records) == 2
    assert {"id_mask", "rec_mask", "adv_mask", "d_image", "d_mask"} <= set(gan_records[0]["losses"])
    assert gan_records[0]["mix_probability"] == 1.0
    assert TrainConfig.from_dict(load_yaml(run / "config.yaml")) == config
    for stage in ("pretrain", "gan"):
        assert (run / "grids" / f"{stage}_epoch_0000.png").is_file()
        with np.load(run / "attention" / f"{stage}_epoch_0001.npz") as saved:
            assert saved["attention_0"].shape[0] == 3  # one map per gated level (depth 3)
            assert saved["attention_0"].shape[1:] == saved["image_0"].shape
    model, info = load_model(run, which="best")
    assert info["net"] == "segmenter" and info["model"] == "attention_unet"
    assert not model.training

    # the test split is never read: neither by the trainer's guard nor by the image reader
    split = json.loads(result.split_path.read_text())
    assert split["test"], "the tiny preset keeps a test part"
    assert not result.stems_read & set(split["test"])
    assert result.stems_read == set(split["train"]) | set(split["val"])
    assert not any(stem in path for path in read_paths for stem in split["test"])


def test_split_guard_refuses_test_stems(data_dir, tmp_path, monkeypatch):
    stems = sorted(p.stem for p in (data_dir / "images").iterdir())
    split = make_split(stems, seed=0, val_fraction=0.25, test_fraction=0.25)
    # a split file that (wrongly) lists a test image for training too must not reach the trainer
    bad = {**split.to_dict(), "train": [*split.train, split.test[0]]}
    path = tmp_path / "split.json"
    path.write_text(json.dumps(bad))
    monkeypatch.setattr("sagegan.train.api.load_or_create_split", lambda *a, **k: _Split(bad))
    with pytest.raises(TestSplitAccessError, match=split.test[0]):
        train(data_dir, tmp_path / "run", tiny(), split_path=path)


class _Split:
    def __init__(self, values: dict) -> None:
        self.train, self.val, self.test = values["train"], values["val"], values["test"]


def test_bad_training_data_is_reported_before_training(data_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for folder in ("images", "masks"):
        (data / folder).mkdir()
        for file in (data_dir / folder).iterdir():
            (data / folder / file.name).write_bytes(file.read_bytes())
    stems = sorted(p.stem for p in (data / "images").iterdir())
    split = make_split(stems, seed=0, val_fraction=0.25, test_fraction=0.25)
    corrupt = [split.train[0], split.test[0]]
    for stem in corrupt:
        next((data / "images").glob(f"{stem}.*")).write_bytes(b"not an image")
    with pytest.raises(DataError) as caught:
        train(data, tmp_path / "run", tiny())
    message = str(caught.value)
    assert split.train[0] in message and "1 training pair" in message
    assert split.test[0] not in message  # a broken test image is never even opened
    assert "\n" not in message
    assert not (tmp_path / "run" / "checkpoints").exists()


class _NanLoss:
    """A loss that returns NaN on the calls listed in ``bad_calls`` (all calls if None)."""

    def __init__(self, inner, bad_calls):
        self.inner, self.bad_calls, self.calls = inner, bad_calls, 0

    def to(self, device):
        return self

    def __call__(self, logits, target, valid=None):
        self.calls += 1
        value = self.inner(logits, target, valid)
        bad = self.bad_calls is None or self.calls in self.bad_calls
        return value * float("nan") if bad else value


def _patch_loss(monkeypatch, bad_calls):
    from sagegan.train import stage_setup

    original = stage_setup.build_segmentation_loss
    monkeypatch.setattr(
        stage_setup,
        "build_segmentation_loss",
        lambda *a, **k: _NanLoss(original(*a, **k), bad_calls),
    )


def test_nan_steps_are_skipped_and_logged_with_the_batch_stems(data_dir, tmp_path, monkeypatch):
    _patch_loss(monkeypatch, bad_calls={1})
    run = tmp_path / "run"
    train(data_dir, run, tiny(**{"gan.epochs": 0}), stage="pretrain")
    first = next(r for r in _records(run) if r["epoch"] == 0)
    assert len(first["skipped_steps"]) == 1
    skipped = first["skipped_steps"][0]
    assert skipped["losses"] == ["seg"] and len(skipped["stems"]) == 2
    assert all(stem.startswith("synth_") for stem in skipped["stems"])


def test_consecutive_nan_steps_stop_training_naming_the_images(data_dir, tmp_path, monkeypatch):
    _patch_loss(monkeypatch, bad_calls=None)
    with pytest.raises(NonFiniteLossError, match="synth_") as caught:
        train(data_dir, tmp_path / "run", tiny(**{"runtime.nan_patience": 3}), stage="pretrain")
    assert "3 consecutive" in str(caught.value)


def test_stage_gan_continues_a_pretrained_run_and_refuses_a_used_folder(data_dir, tmp_path):
    run = tmp_path / "run"
    config = tiny(**{"pretrain.epochs": 1, "gan.epochs": 1})
    train(data_dir, run, config, stage="pretrain")
    assert json.loads((run / "last.json").read_text())["stage"] == "pretrain"
    train(data_dir, run, config, stage="gan")
    last = json.loads((run / "last.json").read_text())
    assert (last["stage"], last["epoch"]) == ("gan", 0)
    with pytest.raises(ConfigError, match="resume"):
        train(data_dir, run, config)
    with pytest.raises(ConfigError, match=r"gan\.epochs"):
        train(data_dir, run, tiny(**{"pretrain.epochs": 1, "gan.epochs": 5}), resume=True)


def test_gan_stage_without_pretraining_is_an_error(data_dir, tmp_path):
    with pytest.raises(ConfigError, match="pretrain"):
        train(data_dir, tmp_path / "run", tiny(), stage="gan")


def test_mask_dir_trains_and_validates_on_the_instance_labels(data_dir, tmp_path):
    """The simulator's labels/ keep touching particles apart where masks/ merges them: with
    ``mask_dir="labels"`` validation counts the exact instances."""
    config = config_from_cli("tiny", None, {"gan.epochs": 0, "pretrain.epochs": 1})
    on_masks = train(data_dir, tmp_path / "masks", config)
    on_labels = train(data_dir, tmp_path / "labels", config, mask_dir="labels")
    record = json.loads((tmp_path / "labels" / "data.json").read_text())
    assert (
        record["fingerprint"]
        != json.loads((tmp_path / "masks" / "data.json").read_text())["fingerprint"]
    )
    assert on_labels.best is not None and on_masks.best is not None
    with pytest.raises(DataError, match="nowhere"):
        train(data_dir, tmp_path / "none", config, mask_dir="nowhere")
