"""Network weights on disk: safetensors files with JSON metadata, written atomically.

Layout of a training run folder (written by ``sagegan.train``, read here by inference):

    RUN/checkpoints/<stage>-e<epoch>/segmenter.safetensors   (+ generator, d_image, d_mask,
                                                               state.pt, info.json)
    RUN/last.json, RUN/best.json, RUN/best-pretrain.json, RUN/best-gan.json

Each ``<which>.json`` pointer names one checkpoint folder. A checkpoint folder is complete before
its pointer is replaced (``os.replace``), so a run killed at any moment leaves every pointer naming
a whole checkpoint. Each weights file carries its network's registry name and keyword arguments, so
``load_model`` rebuilds the network without the training config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import Tensor, nn

from sagegan.errors import ConfigError, DataError
from sagegan.models.builtin import model_location
from sagegan.models.registry import build_model

METADATA_KEY = "sagegan"
CHECKPOINTS_DIR = "checkpoints"
SEGMENTER_FILE = "segmenter.safetensors"
TRAINING_INFO_FILE = "info.json"
RUN_SPLIT_FILE = "split.json"
POINTERS = ("best", "last", "best-pretrain", "best-gan")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` so that readers see the old file or the whole new one, never a part.

    The bytes go to a temporary file in the same folder, are flushed to disk (fsync), then renamed
    over ``path``; on any failure the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json_atomic(path: str | Path, values: dict[str, Any]) -> None:
    """Atomically write a JSON file (see ``write_bytes_atomic``)."""
    write_bytes_atomic(path, (json.dumps(values, indent=2, sort_keys=True) + "\n").encode())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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

    Accepts a run folder (follows ``RUN/<which>.json``), a checkpoint folder, a weights file, or
    "builtin" (the shipped generalist, `sagegan.models.builtin`).
    """
    path = model_location(run_dir_or_file)
    if path.is_file():
        return path
    if (path / SEGMENTER_FILE).is_file():
        return path
    if which not in POINTERS:
        raise ConfigError(f"unknown checkpoint {which!r} (choose from {', '.join(POINTERS)})")
    pointer = path / f"{which}.json"
    if not pointer.is_file():
        raise DataError(path, f"no {which!r} checkpoint here (missing {pointer.name})")
    target = path / read_pointer(pointer)["checkpoint"]
    if not target.is_dir():
        raise DataError(pointer, f"names a missing checkpoint folder {target}")
    return target


def read_pointer(pointer: str | Path) -> dict[str, Any]:
    """The JSON object of a ``RUN/<which>.json`` pointer file.

    DataError naming the file unless it is a JSON object whose "checkpoint" is a relative path to a
    folder inside the run folder (a pointer never names anything outside its run).
    """
    pointer = Path(pointer)
    try:
        values = json.loads(pointer.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(pointer, f"unreadable checkpoint pointer ({err})") from None
    if not isinstance(values, dict) or not isinstance(values.get("checkpoint"), str):
        raise DataError(
            pointer, 'not a checkpoint pointer (expected a JSON object with a "checkpoint" path)'
        )
    run_dir = os.path.abspath(pointer.parent)
    target = os.path.abspath(os.path.join(run_dir, values["checkpoint"]))
    if os.path.commonpath([run_dir, target]) != run_dir or target == run_dir:
        raise DataError(
            pointer, f"names a checkpoint outside the run folder ({values['checkpoint']!r})"
        )
    return values


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
    file = location if location.is_file() else location / f"{net}.safetensors"
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


def read_training_info(weights_path: str | Path) -> dict[str, Any]:
    """The training ``info.json`` saved next to a checkpoint's weights (config, epoch, metrics,
    split file); {} for a bare weights file without one."""
    info_path = Path(weights_path).with_name(TRAINING_INFO_FILE)
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


def training_split_file(run_dir: str | Path, info: dict[str, Any]) -> Path | None:
    """The split file a run was trained with: the one its info records when that file still
    exists, else ``RUN/split.json`` (e.g. after the run folder was moved), else None."""
    recorded = info.get("split")
    if recorded and Path(recorded).is_file():
        return Path(recorded)
    candidate = Path(run_dir) / RUN_SPLIT_FILE
    return candidate if candidate.is_file() else None
