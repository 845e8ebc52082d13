"""`load_backend`: a saved segmenter ready to run on the chosen inference backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sagegan.errors import ConfigError, DataError
from sagegan.infer.backends import (
    EagerBackend,
    InferenceBackend,
    OnnxBackend,
    TorchBackend,
    check_backend_options,
    require_onnx,
)
from sagegan.infer.device import resolve_device
from sagegan.infer.ensemble import EnsembleBackend
from sagegan.infer.export import current_onnx_export, file_sha256
from sagegan.models.checkpoint import load_model, member_weights, require_segmenter
from sagegan.models.ensemble_record import (
    ENSEMBLE_KEY,
    ensemble_file,
    ensemble_summary,
    read_ensemble,
)


def backend_device(backend: str, device: str | torch.device) -> torch.device:
    """The device ``backend`` runs on for the ``--device`` value ``device`` (`resolve_device`;
    "auto" is cpu for onnx, which runs on the CPU only); ConfigError when unusable."""
    if backend == "onnx" and str(device) == "auto":
        return torch.device("cpu")
    resolved = resolve_device(device)
    if backend == "onnx" and resolved.type != "cpu":
        raise ConfigError("the onnx backend runs on the CPU; use the torch backend on cuda")
    return resolved


def load_backend(
    model_path: str | Path,
    which: str = "best",
    backend: str = "torch",
    precision: str = "fp32",
    device: str | torch.device = "auto",
    onnx_path: str | Path | None = None,
) -> tuple[InferenceBackend, dict[str, Any]]:
    """The segmenter of a run folder (its ``which`` checkpoint), checkpoint folder or weights
    file on ``backend``, and its info (weights metadata, ``path``; ``onnx`` for that backend).

    The ``onnx`` backend uses ``onnx_path`` or the run's default export, exported first when
    missing or stale; an ONNX file made from other weights is refused (DataError). ``device``
    is read by `resolve_device` ("auto": cuda when available; onnx: cpu). An ensemble folder
    loads each member on ``backend`` (its own ONNX export) as one `EnsembleBackend`.
    """
    check_backend_options(backend, precision)
    device = backend_device(backend, device)
    if onnx_path is not None and backend != "onnx":
        raise ConfigError(f"an ONNX file is only used by the onnx backend, not {backend!r}")
    record = ensemble_file(model_path)
    if record is not None:
        if onnx_path is not None:
            raise ConfigError("--onnx names one network's file; an ensemble uses its members'")
        return _load_ensemble(record, which, backend, precision, device)
    if backend == "onnx":
        require_onnx()
    model, info = load_model(model_path, which=which, map_location=device)
    require_segmenter(info)
    if backend == "eager":
        return EagerBackend(model, device), info
    if backend == "torch":
        return TorchBackend(model, device, precision), info
    del model
    path = Path(onnx_path) if onnx_path is not None else current_onnx_export(model_path, which)
    runner = OnnxBackend(path)
    if runner.metadata.get("weights_sha256") != file_sha256(info["path"]):
        raise DataError(
            path,
            f"was exported from other weights than {info['path']}; "
            "export again with `sagegan export --onnx RUN`",
        )
    return runner, {**info, "onnx": str(path)}


def load_members(
    members: list[Path], which: str, backend: str, precision: str, device: torch.device
) -> tuple[EnsembleBackend, dict[str, Any]]:
    """The ``which`` segmenters of ``members`` on ``backend`` as one `EnsembleBackend`, and the
    first member's info."""
    loaded = [  # a weights file has no checkpoints to choose from: "best" is not read
        load_backend(member_weights(member, which), "best", backend, precision, device)
        for member in members
    ]
    return EnsembleBackend([runner for runner, _ in loaded]), loaded[0][1]


def _load_ensemble(
    file: Path, which: str, backend: str, precision: str, device: torch.device
) -> tuple[InferenceBackend, dict[str, Any]]:
    """The members of the ensemble record ``file`` as one backend, and its info (the first
    member's weights metadata, ``path`` the record, ``ensemble`` its `ensemble_summary`, which
    `checkpoint_record` reports instead of that member's epoch; `read_training_info` of the
    record gives the ensemble's training info). ConfigError when ``which`` asks for another
    checkpoint than the ensemble was composed of."""
    record = read_ensemble(file)
    if which not in ("best", record["which"]):
        raise ConfigError(
            f"the ensemble {file.parent} combines its members' {record['which']!r} checkpoints, "
            f"not {which!r}: compose another with sagegan ensemble --checkpoint {which}"
        )
    runner, first = load_members(record["members"], record["which"], backend, precision, device)
    return runner, {**first, "path": str(file), ENSEMBLE_KEY: ensemble_summary(file, record)}
