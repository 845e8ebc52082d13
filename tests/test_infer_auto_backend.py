"""The automatic backend: the fastest measured candidate the options allow, PyTorch float32 unless
another beats it clearly, measured once per machine and cached."""

from __future__ import annotations

import json

import pytest
import torch

from sagegan.errors import ConfigError
from sagegan.infer import auto_backend
from sagegan.infer.auto_backend import MIN_GAIN, choose_backend, machine_key, pick_backend
from sagegan.infer.backends import check_backend_options
from sagegan.infer.options import PredictionOptions

CPU = torch.device("cpu")


@pytest.fixture
def measured(monkeypatch, tmp_path):
    """Fake measurements (seconds per candidate), counted, with the cache in ``tmp_path``."""
    monkeypatch.setenv("SAGEGAN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(auto_backend, "_candidates", lambda device: list(SECONDS))
    calls = []

    def measure(device):
        calls.append(device)
        return {f"{b}/{p}": seconds for (b, p), seconds in SECONDS.items()}

    monkeypatch.setattr(auto_backend, "measure_backends", measure)
    return calls


SECONDS = {("torch", "fp32"): 1.0, ("torch", "bf16"): 3.0, ("onnx", "fp32"): 0.4}


def test_auto_picks_the_fastest_allowed_candidate(measured):
    assert pick_backend("auto", "auto", CPU) == ("onnx", "fp32")
    assert pick_backend("torch", "auto", CPU) == ("torch", "fp32")  # bf16 is slower here
    assert pick_backend("auto", "bf16", CPU) == ("torch", "bf16")  # the only bf16 candidate
    assert pick_backend("eager", "auto", CPU) == ("eager", "fp32")
    assert pick_backend("auto", "auto", CPU, onnx_file=True) == ("onnx", "fp32")
    assert len(measured) == 1  # measured once, then read from the cache


def test_a_small_gain_keeps_pytorch_float32(measured, monkeypatch):
    monkeypatch.setitem(SECONDS, ("onnx", "fp32"), 1.0 / (MIN_GAIN * 0.99))
    assert pick_backend("auto", "auto", CPU) == ("torch", "fp32")


def test_the_choice_is_cached_per_machine(measured, tmp_path):
    first = choose_backend(CPU)
    cache = json.loads((tmp_path / "backends.json").read_text())
    assert list(cache) == [machine_key(CPU)]
    assert cache[machine_key(CPU)]["backend"] == first.backend == "onnx"
    assert first.speedup == pytest.approx(2.5)
    assert choose_backend(CPU) == first and len(measured) == 1
    assert "2.5x faster than PyTorch float32" in first.line()


def test_auto_is_a_valid_option_and_bf16_still_needs_torch():
    check_backend_options("auto", "auto")
    check_backend_options("auto", "bf16")
    with pytest.raises(ConfigError, match="precision bf16 needs the torch backend, not 'onnx'"):
        check_backend_options("onnx", "bf16")
    with pytest.raises(ConfigError, match="unknown backend 'fast'"):
        PredictionOptions(backend="fast")


def test_options_resolve_auto_before_loading(measured):
    options = PredictionOptions(backend="auto", precision="auto", device="cpu").resolved()
    assert (options.backend, options.precision) == ("onnx", "fp32")
    fixed = PredictionOptions(backend="torch", precision="fp32")
    assert fixed.resolved() is fixed  # nothing to measure
