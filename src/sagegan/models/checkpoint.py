"""Network weights on disk: safetensors files with JSON metadata, written atomically.

A model is a run folder (its pointers name checkpoint folders), a checkpoint folder or a weights
file; `sagegan.models.run_folder` holds their layout. Each weights file carries its network's
registry name and keyword arguments, so ``load_model`` rebuilds the network without the training
config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import Tensor, nn

from sagegan.data.atomic_files import write_bytes_atomic
from sagegan.errors import DataError
from sagegan.models.builtin import model_location
from sagegan.models.ensemble_record import (
    ENSEMBLE_FILE,
    ENSEMBLE_KEY,
    ensemble_file,
    ensemble_info,
    read_ensemble,
)
from sagegan.models.registry import build_model, model_kind
from sagegan.models.run_folder import CheckpointFolder, RunFolder

METADATA_KEY = "sagegan"


def unwrap(module: nn.Module) -> nn.Module:
    """The plain network inside a DistributedDataParallel (or similar ``.module``) wrapper."""
    return getattr(module, "module", module)


def save_weights(
    path: str | Path, module_or_state_dict: nn.Module | dict[str, Tensor], metadata: dict[str, Any]
) -> None:
    """Atomically save a network's weights (and buffers) as safetensors with JSON ``metadata``."""
    if isinstance(module_or_state_dict, nn.Module):
        state = unwrap(module_or_state_dict).state_dict()
    else:
        state = module_or_state_dict
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in state.items()}
    payload = save_safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(metadata)})
    write_bytes_atomic(path, payload)


def load_weights(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a weights file written by ``save_weights``: (state dict, metadata)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(path, f"cannot read weights file ({err.strerror})") from None
    try:
        tensors = load_safetensors_bytes(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
    except (SafetensorError, ValueError) as err:
        raise DataError(path, f"not a valid safetensors file ({err})") from None
    metadata = json.loads(header.get("__metadata__", {}).get(METADATA_KEY, "{}"))
    return {key: value.to(map_location) for key, value in tensors.items()}, metadata


def resolve_checkpoint(run_dir_or_file: str | Path, which: str = "best") -> Path:
    """The checkpoint folder (or weights file) that ``run_dir_or_file`` + ``which`` designate.

    Accepts a run folder (follows its ``which`` pointer, `RunFolder.checkpoint`), a checkpoint
    folder, a weights file, "builtin" (the shipped generalist, `sagegan.models.builtin`) or an
    ensemble folder (its ``ensemble.json``, `sagegan.models.ensemble_record`).
    """
    path = model_location(run_dir_or_file)
    if path.is_file():
        return path
    record = ensemble_file(path)
    if record is not None:
        return record
    if CheckpointFolder(path).weights().is_file():
        return path
    return RunFolder(path).checkpoint(which)


def load_model(
    run_dir_or_file: str | Path,
    which: str = "best",
    map_location: str | torch.device = "cpu",
    net: str = "segmenter",
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a saved network (the segmenter by default) and load its weights.

    Returns (model in eval mode, info) where info is the file's metadata plus ``path``.
    """
    location = resolve_checkpoint(run_dir_or_file, which)
    if location.name == ENSEMBLE_FILE:
        raise DataError(
            location.parent,
            "is an ensemble of several networks: segment, evaluate and analyze take it; "
            "here give one of its members",
        )
    file = location if location.is_file() else CheckpointFolder(location).weights(net)
    state, metadata = load_weights(file, map_location=map_location)
    if "model" not in metadata:
        raise DataError(file, "weights file has no sagegan model metadata")
    model = build_model(metadata["model"], **metadata.get("model_kwargs", {}))
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise DataError(file, f"weights do not fit {metadata['model']} ({first})") from None
    model.to(map_location).eval()
    return model, {**metadata, "path": str(file)}


def require_segmenter(info: dict[str, Any]) -> None:
    """DataError naming the weights file when `load_model`'s ``info`` describes a generator or a
    discriminator: inference needs a segmenter."""
    kind = model_kind(info.get("model", ""))
    if kind not in (None, "segmenter"):
        raise DataError(
            info["path"],
            f"holds a {kind} ({info['model']}), not a segmenter: give the run folder, a "
            "checkpoint folder or its segmenter weights",
        )


def segmenter_weights(model_path: str | Path, which: str = "best") -> Path:
    """The segmenter weights file a run folder's ``which`` checkpoint, a checkpoint folder or a
    weights file designates (an ensemble's record for an ensemble folder)."""
    location = resolve_checkpoint(model_path, which)
    return location if location.is_file() else CheckpointFolder(location).weights()


def member_weights(member: str | Path, which: str) -> Path:
    """The segmenter weights file of an ensemble member's ``which`` checkpoint; DataError for a
    member that is itself an ensemble."""
    weights = segmenter_weights(member, which)
    if weights.name == ENSEMBLE_FILE:
        raise DataError(weights, "an ensemble member cannot itself be an ensemble")
    return weights


def representative_weights(weights_path: str | Path) -> Path:
    """``weights_path`` itself, or for an ensemble's record its first member's weights file (the
    members trained on the same images with the same plan)."""
    if Path(weights_path).name != ENSEMBLE_FILE:
        return Path(weights_path)
    record = read_ensemble(weights_path)
    return member_weights(record["members"][0], record["which"])


def _ensemble_training_info(file: Path) -> dict[str, Any]:
    """`ensemble_info` of the record ``file``, its split the first member's as that member's run
    folder finds it (so a moved ensemble, members and all, keeps its split)."""
    record = read_ensemble(file)
    first_member = record["members"][0]
    first = read_training_info(member_weights(first_member, record["which"]))
    info = ensemble_info(file, record, first)
    split = RunFolder(first_member).training_split(first)
    if split is not None:
        info["split"] = str(split)
    return info


def read_training_info(weights_path: str | Path) -> dict[str, Any]:
    """The training info saved next to a checkpoint's weights (config, epoch, metrics, split
    file; `CheckpointFolder.info_path`); {} for a bare weights file without one. For an
    ensemble's record, the ensemble's info (`ensemble_info`)."""
    if Path(weights_path).name == ENSEMBLE_FILE:
        return _ensemble_training_info(Path(weights_path))
    info_path = CheckpointFolder(Path(weights_path).parent).info_path()
    if not info_path.is_file():
        return {}
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(info_path, f"unreadable checkpoint info ({err})") from None
    if not isinstance(info, dict):
        raise DataError(info_path, f"expected a JSON object, got {type(info).__name__}")
    return info


def training_databar(info: dict[str, Any]) -> str | int:
    """The databar setting a run was trained with ("auto" when the info does not say)."""
    return info.get("config", {}).get("data", {}).get("databar", "auto")


def training_scale(info: dict[str, Any]) -> float:
    """The working resolution a run was trained at (``data.scale``; 1 when the info does not
    say): images are predicted at it and their maps taken back (`sagegan.infer.scaling`)."""
    return float(info.get("config", {}).get("data", {}).get("scale", 1.0))


def checkpoint_record(info: dict[str, Any]) -> dict[str, Any]:
    """What outputs record as the checkpoint of a model's (loaded or training) ``info``: a run
    checkpoint's stage and 0-based epoch, or an ensemble's record file, members and their
    checkpoint (`ensemble_summary`), not its first member's epoch."""
    if ENSEMBLE_KEY in info:
        return {ENSEMBLE_KEY: dict(info[ENSEMBLE_KEY])}
    return {"stage": info.get("stage"), "epoch": info.get("epoch")}
