"""`resolve_device`: the one reading of --device / runtime.device for every verb."""

from __future__ import annotations

import pytest
import torch

from sagegan.errors import ConfigError
from sagegan.infer.device import check_device_name, resolve_device
from sagegan.train.config import RuntimeConfig, TrainConfig
from sagegan.train.runtime import setup_runtime

needs_no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the errors of a machine without CUDA"
)


def _fake_cuda(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.version, "cuda", "12.1")


def test_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("name", ["tpu", "gpu", "CPU", "cuda:", "cuda:x", "cuda0", "mps", ""])
def test_unknown_names_are_one_line_config_errors(name: str) -> None:
    message = f"--device {name}: unknown device (choose auto, cpu, cuda or cuda:N)"
    for call in (resolve_device, check_device_name):
        with pytest.raises(ConfigError) as error:
            call(name)
        assert str(error.value) == message


@needs_no_cuda
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_names_the_option_and_the_way_out(name: str) -> None:
    with pytest.raises(ConfigError) as error:
        resolve_device(name)
    message = str(error.value)
    assert message.startswith(f"--device {name}: ") and "\n" not in message
    assert message.endswith("use --device cpu or auto")
    if torch.version.cuda is None:
        assert f"no CUDA support (torch {torch.__version__}, CPU only)" in message
    check_device_name(name)  # a valid name, only unavailable here


def test_cuda_build_without_a_gpu_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cuda(monkeypatch, 0)
    with pytest.raises(ConfigError, match=r"^--device cuda: no CUDA device is available \("):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")


def test_cuda_index_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cuda(monkeypatch, 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("auto").type == "cuda"
    with pytest.raises(ConfigError, match=r"^--device cuda:2: no such CUDA device \(2 available"):
        resolve_device("cuda:2")


def test_option_name_is_used_in_messages() -> None:
    with pytest.raises(ConfigError, match=r"^runtime\.device tpu: unknown device"):
        resolve_device("tpu", "runtime.device")


def test_training_config_and_runtime_use_the_same_names() -> None:
    for name in ("auto", "cpu", "cuda", "cuda:1"):
        TrainConfig.from_dict({"runtime": {"device": name}})
    with pytest.raises(ConfigError, match=r"^runtime\.device tpu: unknown device"):
        TrainConfig.from_dict({"runtime": {"device": "tpu"}})
    assert setup_runtime(RuntimeConfig(device="cpu")).device == torch.device("cpu")


@needs_no_cuda
def test_training_on_cuda_without_cuda_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^runtime\.device cuda: .*use runtime\.device cpu"):
        setup_runtime(RuntimeConfig(device="cuda"))
