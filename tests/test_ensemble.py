"""Ensembles: several runs' maps averaged as one model (`sagegan ensemble`, `train --ensemble`),
with the instance split chosen on their shared validation images."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from sagegan.cli import main
from sagegan.data.splits import load_split, save_split
from sagegan.errors import ConfigError, DataError
from sagegan.evaluate.run import evaluate_run
from sagegan.infer.backends import InferenceBackend
from sagegan.infer.domain import DomainGuard
from sagegan.infer.ensemble import EnsembleBackend
from sagegan.infer.instances import TUNED_SPLIT_KEY
from sagegan.infer.loading import load_backend
from sagegan.infer.segment import segment_images
from sagegan.models.checkpoint import load_model, read_training_info, resolve_checkpoint
from sagegan.models.ensemble_record import ENSEMBLE_FILE, read_ensemble, write_ensemble
from sagegan.models.output import SegmentationOutput
from sagegan.synth import write_dataset
from sagegan.train import config_from_cli, train
from sagegan.train.ensemble import compose_ensemble, member_configs


class ConstantBackend(InferenceBackend):
    """Logits of one value in every pixel and channel, attention maps of given shapes."""

    name = "constant"

    def __init__(self, logit: float, channels: int = 2, attention=((1, 1, 4, 4),), stride=4):
        self.logit, self.channels, self.attention = logit, channels, attention
        self.stride, self.device = stride, torch.device("cpu")

    def __call__(self, batch):
        shape = (batch.shape[0], self.channels, *batch.shape[-2:])
        maps = [torch.full(size, self.logit) for size in self.attention]
        return SegmentationOutput(torch.full(shape, self.logit), maps)


def test_ensemble_averages_probabilities_and_attention():
    members = [ConstantBackend(2.0, stride=8), ConstantBackend(-1.0), ConstantBackend(0.5)]
    ensemble = EnsembleBackend(members)
    output = ensemble(torch.zeros(2, 1, 8, 8))
    expected = np.mean([1 / (1 + np.exp(-v)) for v in (2.0, -1.0, 0.5)])
    assert output.logits.shape == (2, 2, 8, 8) and ensemble.stride == 8
    assert torch.sigmoid(output.logits).numpy() == pytest.approx(expected, abs=1e-6)
    assert output.attention[0].numpy() == pytest.approx(0.5, abs=1e-6)  # mean of 2, -1, 0.5
    mixed = EnsembleBackend([ConstantBackend(1.0), ConstantBackend(3.0, attention=((1, 1, 2, 2),))])
    assert mixed(torch.zeros(1, 1, 8, 8)).attention[0].numpy() == pytest.approx(1.0)


def test_ensemble_refuses_members_with_other_channels_and_single_members():
    with pytest.raises(ConfigError, match="different output channels"):
        EnsembleBackend([ConstantBackend(0.0, 1), ConstantBackend(0.0, 2)])(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ConfigError, match="at least two members"):
        EnsembleBackend([ConstantBackend(0.0)])


def test_ensemble_record_round_trip_and_bad_records(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    file = write_ensemble(tmp_path, [tmp_path / "a", tmp_path / "b"], "best", {"k": 1})
    assert json.loads(file.read_text())["members"] == ["a", "b"]  # relative: the folder moves
    record = read_ensemble(file)
    assert record["members"] == [tmp_path / "a", tmp_path / "b"] and record["info"] == {"k": 1}
    assert resolve_checkpoint(tmp_path) == file
    (tmp_path / "b").rmdir()
    with pytest.raises(DataError, match=r"member .*b does not exist"):
        read_ensemble(file)
    file.write_text(json.dumps({"members": ["a"]}))
    with pytest.raises(DataError, match="at least two members"):
        read_ensemble(file)
    with pytest.raises(ConfigError, match="at least two members"):
        write_ensemble(tmp_path, [tmp_path / "a"], "best", {})


def test_member_configs_take_successive_seeds_and_share_the_budget():
    config = config_from_cli("auto", None, {"seed": 3, "plan.budget_minutes": 60})
    members = member_configs(config, 3)
    assert [member.seed for member in members] == [3, 4, 5]
    assert all(member.plan.budget_minutes == pytest.approx(20) for member in members)
    with pytest.raises(ConfigError, match="at least 2 members"):
        member_configs(config, 1)


@pytest.fixture(scope="module")
def trained_ensemble(tmp_path_factory):
    """(dataset, ensemble folder) made by ``sagegan train --ensemble 2`` on simulated images."""
    root = tmp_path_factory.mktemp("ensemble")
    data = write_dataset(root / "data", n=6, size=(64, 64), seed=0, progress=False)
    argv = ["train", str(data), "--out", str(root / "ens"), "--preset", "tiny", "--ensemble", "2"]
    assert main([*argv, "--set", "gan.epochs=0", "--set", "runtime.progress=false"]) == 0
    return data, root / "ens"


def test_train_ensemble_trains_members_on_one_split_and_tunes_its_split(trained_ensemble):
    _, folder = trained_ensemble
    record = read_ensemble(folder / ENSEMBLE_FILE)
    assert record["members"] == [folder / "member-0", folder / "member-1"]
    split = load_split(folder / "member-0" / "split.json")
    seeds = []
    for member in record["members"]:
        info = read_training_info(resolve_checkpoint(member) / "segmenter.safetensors")
        seeds.append(info["config"]["seed"])
        assert load_split(info["split"]).val == split.val
    assert seeds == [0, 1]
    tuned = record["info"][TUNED_SPLIT_KEY]
    assert tuned["images"] == len(split.val) and tuned["chosen"]


def test_an_ensemble_predicts_the_mean_of_its_members(trained_ensemble):
    _, folder = trained_ensemble
    ensemble, info = load_backend(folder, device="cpu")
    assert info[TUNED_SPLIT_KEY]["images"] >= 1 and info["path"].endswith(ENSEMBLE_FILE)
    members = [load_backend(folder / f"member-{i}", device="cpu")[0] for i in range(2)]
    batch = torch.randn(1, 1, 64, 64)
    with ensemble.prepared():
        averaged = torch.sigmoid(ensemble(batch).logits)
    with members[0].prepared(), members[1].prepared():
        each = [torch.sigmoid(member(batch).logits) for member in members]
    assert torch.allclose(averaged, (each[0] + each[1]) / 2, atol=1e-5)


def test_an_ensemble_is_a_model_for_segment_and_evaluate(trained_ensemble, tmp_path):
    data, folder = trained_ensemble
    result = evaluate_run(folder, data, out=tmp_path / "scores", split="val", progress=False)
    assert len(result.rows) >= 1 and 0.0 <= result.summary["dice_mean"] <= 1.0
    summary = segment_images([data / "images"], folder, tmp_path / "seg", progress=False)
    assert len(summary.results) == 6 and summary.ok
    with pytest.raises(DataError, match="is an ensemble of several networks"):
        load_model(folder)  # export, attention figures and --init need one network
    guard = DomainGuard.for_weights(folder / ENSEMBLE_FILE)
    assert guard is not None  # the first member's fingerprint checks images for the ensemble


def test_compose_refuses_runs_trained_on_other_splits(trained_ensemble, tmp_path):
    data, folder = trained_ensemble
    split = load_split(folder / "member-0" / "split.json")
    save_split(replace(split, val=split.test, test=split.val), tmp_path / "swapped.json")
    config = config_from_cli("tiny", None, {"gan.epochs": 0, "runtime.progress": False})
    train(data, tmp_path / "other", config, split_path=tmp_path / "swapped.json")
    with pytest.raises(ConfigError, match="another split"):
        compose_ensemble([folder / "member-0", tmp_path / "other"], data, tmp_path / "ens")
    with pytest.raises(DataError, match="ensemble member cannot itself be an ensemble"):
        compose_ensemble([folder, folder / "member-0"], data, tmp_path / "ens2")
