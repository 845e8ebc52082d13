"""`resolve_device`: the torch device that a ``--device`` option (or ``runtime.device``) names.

Every verb that runs a network reads its device here: "auto" (cuda when available, else cpu),
"cpu", "cuda" or "cuda:N". Anything else, or CUDA where there is none, is a one-line ConfigError
that names the option.
"""

from __future__ import annotations

import re

import torch

from sagegan.errors import ConfigError

DEVICE_NAMES = "auto, cpu, cuda or cuda:N"
_CUDA = re.compile(r"cuda(?::(\d+))?")


def check_device_name(name: str | torch.device, option: str = "--device") -> None:
    """Raise ConfigError unless ``name`` is one of `DEVICE_NAMES` (availability not checked)."""
    text = str(name)
    if text not in ("auto", "cpu") and _CUDA.fullmatch(text) is None:
        raise ConfigError(f"{option} {text}: unknown device (choose {DEVICE_NAMES})")


def _no_cuda_reason() -> str:
    if torch.version.cuda is None:
        return f"this torch build has no CUDA support (torch {torch.__version__}, CPU only)"
    return (
        f"no CUDA device is available (torch {torch.__version__} with CUDA "
        f"{torch.version.cuda}; is the GPU driver loaded?)"
    )


def resolve_device(name: str | torch.device, option: str = "--device") -> torch.device:
    """The device ``name`` (one of `DEVICE_NAMES`, or a torch.device) names on this machine.

    "auto" is cuda when available, else cpu; "cuda" without an index is the current CUDA device.
    ``option`` names the setting in errors: an unknown name, or CUDA when this torch build or
    machine has none or the index is out of range, raises a one-line ConfigError.
    """
    text = str(name)
    check_device_name(text, option)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"{option} {text}: {_no_cuda_reason()}; use {option} cpu or auto")
    index = _CUDA.fullmatch(text).group(1)
    count = torch.cuda.device_count()
    if index is not None and int(index) >= count:
        raise ConfigError(
            f"{option} {text}: no such CUDA device ({count} available: cuda:0 to cuda:{count - 1})"
        )
    return torch.device(text)
