"""Inference backends (eager, torch, onnx), the ONNX export and the CLI's backend options."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sagegan.cli import main
from sagegan.errors import ConfigError, DataError
from sagegan.infer.backends import (
    ONNX_INSTALL_HINT,
    EagerBackend,
    OnnxBackend,
    TorchBackend,
    check_backend_options,
)
from sagegan.infer.export import (
    current_onnx_export,
    export_onnx,
    file_sha256,
    sidecar_path,
)
from sagegan.infer.loading import load_backend
from sagegan.infer.tiling import predict_tiled
from sagegan.models import build_model
from sagegan.models.checkpoint import load_weights, save_weights, segmenter_weights

TINY_NETS = {  # label: (registry name, options)
    "attention_unet": ("attention_unet", {"base_width": 4, "depth": 3}),
    "unet": ("unet", {"base_width": 4, "depth": 3}),
    "instance_head": ("attention_unet", {"base_width": 4, "depth": 3, "out_channels": 2}),
    # the auto recipe's norm: statistics of each image, even in eval mode (a 1 x 1 bottleneck fails)
    "instance_norm": ("attention_unet", {"base_width": 4, "depth": 3, "norm": "instance"}),
}
FP32_TOLERANCE = 1e-4


def _saved_net(folder: Path, label: str, seed: int = 0) -> Path:
    """Weights file of a tiny randomly initialised segmenter (BatchNorm statistics made
    non-trivial by a few training-mode passes, so eval mode differs from identity)."""
    torch.manual_seed(seed)
    name, options = TINY_NETS[label]
    model = build_model(name, **options)
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(2, 1, 32, 48) * 2 - 1)
    path = folder / f"{label}-{seed}.safetensors"
    save_weights(path, model, {"model": name, "model_kwargs": options})
    return path


@pytest.fixture(scope="module", params=sorted(TINY_NETS))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(weights file, ONNX file) of a tiny attention U-Net and a tiny plain U-Net."""
    folder = tmp_path_factory.mktemp(request.param)
    weights = _saved_net(folder, request.param)
    return weights, export_onnx(weights)


def _backends(weights: Path, onnx_file: Path) -> dict[str, object]:
    return {
        "eager": load_backend(weights, backend="eager")[0],
        "torch": load_backend(weights, backend="torch")[0],
        "onnx": OnnxBackend(onnx_file),
    }


def _batch(shape: tuple[int, ...], seed: int = 1) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("shape", [(2, 1, 48, 80), (1, 1, 37, 53)])
def test_backends_agree_in_fp32(exported, shape: tuple[int, ...]) -> None:
    weights, onnx_file = exported
    outputs = {name: run(_batch(shape)) for name, run in _backends(weights, onnx_file).items()}
    reference = outputs["eager"]
    channels = 2 if weights.name.startswith("instance_head") else 1
    logits_shape = (shape[0], channels, *shape[2:])
    assert reference.logits.shape == logits_shape
    for name in ("torch", "onnx"):
        got = outputs[name]
        assert got.logits.shape == logits_shape and got.logits.dtype == torch.float32
        assert (got.logits - reference.logits).abs().max() <= FP32_TOLERANCE, name
        assert bool(got.attention) == bool(reference.attention), name
        if reference.attention:
            finest = got.attention[-1]
            assert finest.shape == reference.attention[-1].shape == shape
            assert (finest - reference.attention[-1]).abs().max() <= FP32_TOLERANCE, name


def test_bf16_is_close_and_keeps_masks(exported) -> None:
    weights, _ = exported
    batch = _batch((2, 1, 64, 96))
    fp32 = load_backend(weights, backend="eager")[0](batch).logits
    bf16 = load_backend(weights, backend="torch", precision="bf16")[0](batch).logits
    assert bf16.dtype == torch.float32
    scale = float(fp32.abs().max())
    assert 0 < (bf16 - fp32).abs().max() <= 0.1 * max(1.0, scale)
    assert ((bf16 > 0) == (fp32 > 0)).float().mean() >= 0.98


@pytest.mark.parametrize("tta", ["none", "flips"])
def test_predict_tiled_with_each_backend_equals_the_module(exported, tta: str) -> None:
    weights, onnx_file = exported
    image = _batch((1, 1, 90, 130), seed=2)[0, 0].numpy()
    module = load_backend(weights, backend="eager")[0].module
    module.train()  # predict_tiled switches it to eval and back
    expected = predict_tiled(module, image, tile=(48, 64), tta=tta)
    assert module.training
    for name, backend in _backends(weights, onnx_file).items():
        got = predict_tiled(backend, image, tile=(48, 64), tta=tta)
        assert np.abs(got.probability - expected.probability).max() <= FP32_TOLERANCE, name
        assert (got.attention is None) == (expected.attention is None), name
        assert (got.boundary is None) == (expected.boundary is None), name
        if expected.boundary is not None:
            assert np.abs(got.boundary - expected.boundary).max() <= FP32_TOLERANCE, name
        if expected.attention is not None:
            assert np.abs(got.attention - expected.attention).max() <= FP32_TOLERANCE, name


def test_export_writes_model_and_sidecar(exported) -> None:
    weights, onnx_file = exported
    assert onnx_file == weights.parent / "export" / f"{weights.stem}.onnx"
    record = json.loads(sidecar_path(onnx_file).read_text())
    gated = record["model"] == "attention_unet"
    assert record["stride"] == 8 and record["pad_mode"] == "reflect"
    assert set(record["outputs"]) == ({"logits", "attention"} if gated else {"logits"})
    assert record["weights_sha256"] == file_sha256(weights)
    assert record["verification"]["max_abs_diff"] <= FP32_TOLERANCE
    assert set(record["versions"]) == {"torch", "onnx", "onnxruntime"}
    assert OnnxBackend(onnx_file).metadata["weights_sha256"] == record["weights_sha256"]


@pytest.mark.parametrize("bad", ["model.txt", "blocker/model.onnx"])
def test_export_refuses_a_bad_path(tmp_path: Path, bad: str, capsys) -> None:
    weights = _saved_net(tmp_path, "unet")
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(DataError, match=r"model\.(txt|onnx)"):
        export_onnx(weights, tmp_path / bad)
    assert main(["export", "--onnx", str(weights), "--out", str(tmp_path / bad)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sagegan export: error:") and error.count("\n") == 1
    assert not (tmp_path / bad).exists()


def test_onnx_file_of_other_weights_is_refused(tmp_path: Path) -> None:
    first, second = _saved_net(tmp_path, "unet", seed=0), _saved_net(tmp_path, "unet", seed=1)
    onnx_file = export_onnx(first)
    with pytest.raises(DataError, match="other weights"):
        load_backend(second, backend="onnx", onnx_path=onnx_file)


def test_backend_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="needs the torch backend"):
        check_backend_options("onnx", "bf16")
    with pytest.raises(ConfigError, match="unknown backend"):
        check_backend_options("tensorrt", "fp32")


def test_torch_backend_uses_channels_last(exported) -> None:
    weights, _ = exported
    backend = load_backend(weights, backend="torch")[0]
    assert isinstance(backend, TorchBackend)
    conv = next(m for m in backend.module.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert isinstance(load_backend(weights, backend="eager")[0], EagerBackend)


def test_missing_onnxruntime_gives_the_install_hint(
    tiny_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    data, run = tiny_run
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    with pytest.raises(ConfigError, match=r"pip install onnx onnxruntime"):
        load_backend(run, backend="onnx")
    image = str(sorted((data / "images").iterdir())[0])
    args = ["segment", image, "--model", str(run), "--out", str(tmp_path), "--backend", "onnx"]
    assert main(args) == 2
    assert capsys.readouterr().err.strip() == f"sagegan segment: error: {ONNX_INSTALL_HINT}"


def test_segment_with_onnx_backend_matches_torch(
    tiny_run: tuple[Path, Path], tmp_path: Path, caplog
) -> None:
    data, trained = tiny_run
    run = shutil.copytree(trained, tmp_path / "run")  # the shared run must not change
    images = [str(path) for path in sorted((data / "images").iterdir())[:2]]
    common = ["--model", str(run), "--tile", "64x64"]
    assert main(["segment", *images, *common, "--out", str(tmp_path / "torch")]) == 0
    onnx_args = ["--out", str(tmp_path / "onnx"), "--backend", "onnx"]
    with caplog.at_level(logging.INFO, logger="sagegan"):
        assert main(["segment", *images, *common, *onnx_args]) == 0
    assert "no ONNX export yet" in caplog.text
    assert (run / "export" / "segmenter.onnx").is_file()
    assert (run / "export" / "segmenter.json").is_file()
    for image in images:
        stem = Path(image).stem
        masks = [
            np.asarray(Image.open(tmp_path / kind / f"{stem}_mask.png"))
            for kind in ("torch", "onnx")
        ]
        assert masks[0].any() and np.count_nonzero(masks[0] != masks[1]) <= 5
        assert (tmp_path / "onnx" / f"{stem}_attention.png").is_file()
        record = json.loads((tmp_path / "onnx" / f"{stem}.json").read_text())
        assert record["backend"]["name"] == "onnx"
        assert record["backend"]["onnx"] == str(run / "export" / "segmenter.onnx")


def test_stale_export_is_made_again(tiny_run: tuple[Path, Path], tmp_path: Path, caplog) -> None:
    run = shutil.copytree(tiny_run[1], tmp_path / "run")
    first = current_onnx_export(run)
    with caplog.at_level(logging.INFO, logger="sagegan"):
        assert current_onnx_export(run) == first
        assert "ONNX export" not in caplog.text
        weights = segmenter_weights(run)
        state, metadata = load_weights(weights)
        retrained = {
            key: value * 1.01 if value.is_floating_point() else value
            for key, value in state.items()
        }
        save_weights(weights, retrained, metadata)
        assert current_onnx_export(run) == first
        assert "the ONNX export is stale" in caplog.text
    assert OnnxBackend(first).metadata["weights_sha256"] == file_sha256(weights)


def test_export_verb_writes_the_file(tmp_path: Path, capsys) -> None:
    weights = _saved_net(tmp_path, "attention_unet")
    out = tmp_path / "exports" / "net.onnx"
    assert main(["export", "--onnx", str(weights), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and str(sidecar_path(out)) in printed
    assert OnnxBackend(out).metadata["outputs"] == ["logits", "attention"]
