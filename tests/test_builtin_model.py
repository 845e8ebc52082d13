"""The generalist model shipped in the package: segment and analyze without training, offline."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import tifffile
import torch

from sagegan import cli
from sagegan.cli import main
from sagegan.infer.export import default_onnx_path
from sagegan.models.builtin import BUILTIN, BUILTIN_FOLDER, MODEL_CARD, builtin_checkpoint
from sagegan.models.checkpoint import load_model, load_weights, read_training_info
from sagegan.synth import write_dataset


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("builtin")
    return write_dataset(root / "data", n=2, size=(128, 160), seed=4, progress=False) / "images"


def test_the_builtin_model_is_shipped_as_safetensors_with_its_card():
    folder = builtin_checkpoint()
    state, metadata = load_weights(folder / "segmenter.safetensors")  # safetensors: no pickle
    assert any(value.dtype == torch.float16 for value in state.values())  # stored as fp16
    assert metadata["model"] == "attention_unet"
    assert metadata["model_kwargs"]["out_channels"] == 2  # the instance head
    info = read_training_info(folder / "segmenter.safetensors")
    assert {"min_size_px", "min_depth_px", "min_size_fraction"} <= set(info["config"]["instances"])
    card = (folder / MODEL_CARD).read_text()
    for fact in ("EMPS", "MIT", "pretrain_generalist.py", "Dice"):
        assert fact in card
    size = sum(path.stat().st_size for path in folder.iterdir())
    assert size < 20 * 2**20, f"the package carries {size / 2**20:.1f} MB of weights"
    model, _ = load_model(BUILTIN)
    assert all(p.dtype.is_floating_point for p in model.parameters())


def test_the_model_card_names_the_shipped_weights_by_their_sha256():
    folder = builtin_checkpoint()
    digest = hashlib.sha256((folder / "segmenter.safetensors").read_bytes()).hexdigest()
    assert digest in (folder / MODEL_CARD).read_text(), "the card describes other weights"


def test_segment_without_a_model_uses_the_builtin(images: Path, tmp_path: Path, capsys):
    assert main(["segment", str(images), "--out", str(tmp_path / "out")]) == 0
    said = capsys.readouterr().out
    assert said.count("builtin generalist model") == 1
    labels = sorted((tmp_path / "out").glob("*_labels.tif"))
    assert len(labels) == 2
    assert tifffile.imread(labels[0]).shape == (128, 160)
    record = json.loads(next((tmp_path / "out").glob("*.json")).read_text())
    assert str(BUILTIN_FOLDER) in json.dumps(record)


def test_analyze_without_model_or_labels_segments_with_the_builtin(images: Path, tmp_path: Path):
    out = tmp_path / "analysis"
    argv = ["analyze", str(images), "--out", str(out), "--no-report", "--max-figures", "0"]
    assert main(argv) == 0
    assert (out / "particles.csv").is_file()


def test_the_builtin_export_goes_to_a_cache_not_the_package(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_onnx_path(BUILTIN) == tmp_path / "sagegan" / BUILTIN / "export/segmenter.onnx"


def test_the_cli_name_matches_the_package_name():
    assert cli.BUILTIN == BUILTIN
