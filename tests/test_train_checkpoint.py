"""Weight files: safetensors round trip, model rebuild, atomic writes and checkpoint pointers."""

from __future__ import annotations

import json

import pytest
import torch

from sagegan.data.atomic_files import write_bytes_atomic
from sagegan.errors import DataError
from sagegan.models import build_model
from sagegan.models.checkpoint import load_model, load_weights, resolve_checkpoint, save_weights
from sagegan.train.checkpointing import Checkpointer
from sagegan.train.runtime import Runtime

SPEC = {"model": "attention_unet", "model_kwargs": {"base_width": 4, "depth": 2}}


def _segmenter() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(SPEC["model"], **SPEC["model_kwargs"])


def test_weights_round_trip_with_metadata(tmp_path):
    model = _segmenter()
    save_weights(tmp_path / "s.safetensors", model, {**SPEC, "epoch": 3})
    state, metadata = load_weights(tmp_path / "s.safetensors")
    assert metadata["epoch"] == 3
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key


def test_load_model_rebuilds_the_segmenter(tmp_path):
    model = _segmenter()
    save_weights(tmp_path / "s.safetensors", model, SPEC)
    loaded, info = load_model(tmp_path / "s.safetensors")
    assert info["model"] == "attention_unet"
    assert not loaded.training
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x).logits, model.eval()(x).logits)


def test_failed_write_leaves_neither_partial_file_nor_temporary(tmp_path, monkeypatch):
    target = tmp_path / "w.safetensors"
    target.write_bytes(b"old complete file")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr("sagegan.data.atomic_files.os.fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, b"new data that never lands")
    assert target.read_bytes() == b"old complete file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


def test_corrupt_weights_file_is_a_data_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x00" * 20)
    with pytest.raises(DataError, match=r"bad\.safetensors"):
        load_weights(path)


def test_checkpointer_pointers_and_garbage_collection(tmp_path):
    checkpointer = Checkpointer(tmp_path, Runtime(torch.device("cpu"), None))
    model = _segmenter()
    nets, specs = {"segmenter": model}, {"segmenter": SPEC}
    scores = [0.5, 0.7, 0.6]
    for epoch, score in enumerate(scores):
        info = {"metric": "dice", "score": score, "metrics": {"dice": score}}
        improved = score == max(scores[: epoch + 1])
        checkpointer.save("pretrain", epoch, nets, specs, {"x": epoch}, info, improved)
    assert json.loads((tmp_path / "last.json").read_text())["epoch"] == 2
    assert json.loads((tmp_path / "best.json").read_text())["epoch"] == 1
    # only the folders a pointer names are kept
    kept = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert kept == ["pretrain-e0001", "pretrain-e0002"]
    _, state = checkpointer.load_state("last")
    assert state["x"] == 2 and state["epoch"] == 2
    assert resolve_checkpoint(tmp_path, "best").name == "pretrain-e0001"
    loaded, info = load_model(tmp_path, which="best")
    assert info["epoch"] == 1 and info["stage"] == "pretrain"
    assert torch.equal(loaded.head.weight, model.head.weight)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="best"):
        load_model(tmp_path)
