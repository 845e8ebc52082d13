"""Ensembles: several runs' maps averaged as one model (`sagegan ensemble`, `train --ensemble`),
with the instance split chosen on their shared validation images."""

from __future__ import annotations

import json
import shutil
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
from sagegan.report.epochs import checkpoint_label
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
    (tmp_path / "b").mkdir()
    malformed = {
        "at least two members": {"members": ["a"]},
        "must be a folder path": {"members": ["a", None]},
        "unknown checkpoint 'newest'": {"members": ["a", "b"], "which": "newest"},
        "'info' must be an object": {"members": ["a", "b"], "info": None},
        "expected a JSON object": ["a", "b"],
    }
    for message, record in malformed.items():
        file.write_text(json.dumps(record))
        with pytest.raises(DataError, match=message):
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
    assert tuned["images"] == len(split.val)
    assert {"min_size_px", "min_depth_px", "min_distance_px"} <= set(tuned["chosen"])


def test_an_ensemble_predicts_the_mean_of_its_members(trained_ensemble):
    _, folder = trained_ensemble
    ensemble, info = load_backend(folder, device="cpu")
    assert info["path"].endswith(ENSEMBLE_FILE)
    assert read_training_info(info["path"])[TUNED_SPLIT_KEY]["images"] >= 1
    with pytest.raises(ConfigError, match="combines its members' 'best' checkpoints"):
        load_backend(folder, which="last", device="cpu")
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
    assert len(result.rows) >= 1 and result.summary["dice_mean"] > 0.0
    summary = segment_images([data / "images"], folder, tmp_path / "seg", progress=False)
    assert len(summary.results) == 6 and summary.ok
    recorded = json.loads((tmp_path / "scores" / "metrics.json").read_text())["checkpoint"]
    members = [str(folder / "member-0"), str(folder / "member-1")]
    assert recorded == {  # not member 0's epoch
        "ensemble": {"file": str(folder / ENSEMBLE_FILE), "which": "best", "members": members}
    }
    assert checkpoint_label(recorded) == "ensemble of 2 (best checkpoints)"
    records = [json.loads(path.read_text()) for path in (tmp_path / "seg").rglob("*.json")]
    per_image = [record for record in records if "stem" in record]
    assert len(per_image) == 6 and all(r["checkpoint"] == recorded for r in per_image)
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


def test_compose_refuses_members_trained_at_other_resolutions(trained_ensemble, tmp_path):
    data, folder = trained_ensemble
    other = shutil.copytree(folder / "member-1", tmp_path / "half")
    info_file = resolve_checkpoint(other, "best") / "info.json"
    info = json.loads(info_file.read_text())
    info["config"]["data"]["scale"] = 0.5
    info_file.write_text(json.dumps(info))
    with pytest.raises(ConfigError, match=r"data\.scale 0\.5"):
        compose_ensemble([folder / "member-0", other], data, tmp_path / "ens")


def test_compose_refuses_repeated_members_an_out_among_them_and_other_data(
    trained_ensemble, tmp_path
):
    data, folder = trained_ensemble
    members = [folder / "member-0", folder / "member-1"]
    with pytest.raises(ConfigError, match="named twice"):
        compose_ensemble([members[0], members[0]], data, tmp_path / "ens")
    with pytest.raises(ConfigError, match="is one of the members"):
        compose_ensemble(members, data, members[1])
    other = write_dataset(tmp_path / "other", n=6, size=(48, 48), seed=1, progress=False)
    with pytest.raises(ConfigError, match="not the data this run trained on"):
        compose_ensemble(members, other, tmp_path / "ens")


def test_a_moved_ensemble_keeps_its_split(trained_ensemble, tmp_path):
    _, folder = trained_ensemble
    moved = shutil.copytree(folder, tmp_path / "moved")
    (folder / "member-0" / "split.json").rename(folder / "member-0" / "split.json.away")
    try:
        info = read_training_info(moved / ENSEMBLE_FILE)
    finally:
        (folder / "member-0" / "split.json.away").rename(folder / "member-0" / "split.json")
    assert info["split"] == str(moved / "member-0" / "split.json")


def test_resuming_an_ensemble_trains_a_missing_member_as_the_first_was(trained_ensemble, tmp_path):
    data, folder = trained_ensemble
    copy = shutil.copytree(folder, tmp_path / "ens")
    shutil.rmtree(copy / "member-1")
    (copy / ENSEMBLE_FILE).unlink()
    argv = ["train", str(data), "--out", str(copy), "--ensemble", "2", "--resume"]
    assert main(argv) == 0  # no --preset: the members follow member-0's saved config
    configs = [
        read_training_info(resolve_checkpoint(copy / f"member-{i}") / "segmenter.safetensors")[
            "config"
        ]
        for i in range(2)
    ]
    assert [config["seed"] for config in configs] == [0, 1]
    assert configs[1]["model"] == configs[0]["model"]
    assert configs[1]["pretrain"]["epochs"] == configs[0]["pretrain"]["epochs"]
    assert read_ensemble(copy / ENSEMBLE_FILE)["members"] == [copy / "member-0", copy / "member-1"]
