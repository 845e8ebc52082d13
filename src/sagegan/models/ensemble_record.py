"""An ensemble of trained segmenters on disk: a folder holding ``ensemble.json``.

The record names its member models (run folders, relative to the ensemble folder or absolute),
the checkpoint of each it uses (``which``) and ``info``: training-info entries that hold for the
ensemble as a whole (its instance split, chosen on the members' shared validation images), laid
over the first member's training info. Prediction (`sagegan.infer.ensemble`) averages the
members' maps; everything that reads a model's training info (split, databar, instance split)
reads the ensemble's (`sagegan.models.checkpoint.read_training_info`, built by `ensemble_info`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sagegan.data.atomic_files import write_json_atomic
from sagegan.errors import ConfigError, DataError
from sagegan.models.run_folder import POINTERS

ENSEMBLE_FILE = "ensemble.json"
ENSEMBLE_KEY = "ensemble"  # in an ensemble's info: its record file and member weights


def ensemble_file(model: str | Path) -> Path | None:
    """The record ``model`` designates (an ensemble folder or its ``ensemble.json``); None when
    ``model`` is not an ensemble."""
    path = Path(model)
    if path.name == ENSEMBLE_FILE and path.is_file():
        return path
    candidate = path / ENSEMBLE_FILE
    return candidate if candidate.is_file() else None


def read_ensemble(file: str | Path) -> dict[str, Any]:
    """The record of ``file`` with member paths resolved; DataError naming the file when it is
    unreadable or malformed (fewer than two members, a member that is not a path or does not
    exist, an unknown checkpoint, an ``info`` that is not an object)."""
    file = Path(file)
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(file, f"unreadable ensemble record ({err})") from None
    if not isinstance(record, dict):
        raise DataError(file, f"expected a JSON object, got {type(record).__name__}")
    members = record.get("members")
    if not isinstance(members, list) or len(members) < 2:
        raise DataError(file, "an ensemble record needs a list of at least two members")
    if not all(isinstance(member, str) and member for member in members):
        raise DataError(file, "every ensemble member must be a folder path (a string)")
    which = record.get("which", "best")
    if which not in POINTERS:
        raise DataError(file, f"unknown checkpoint {which!r} (choose from {', '.join(POINTERS)})")
    info = record.get("info", {})
    if not isinstance(info, dict):
        raise DataError(file, f"'info' must be an object, got {type(info).__name__}")
    resolved = [file.parent / member for member in members]
    for member in resolved:
        if not member.exists():
            raise DataError(file, f"member {member} does not exist")
    return {"members": resolved, "which": which, "info": info}


def write_ensemble(
    folder: str | Path, members: list[Path], which: str, info: dict[str, Any]
) -> Path:
    """Write ``folder/ensemble.json`` (members relative to ``folder`` where they lie under it)."""
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least two members, got {len(members)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for member in members:
        absolute = Path(member).resolve()
        try:
            names.append(str(absolute.relative_to(folder.resolve())))
        except ValueError:
            names.append(str(absolute))
    file = folder / ENSEMBLE_FILE
    write_json_atomic(file, {"members": names, "which": which, "info": info})
    return file


def ensemble_info(
    file: str | Path, record: dict[str, Any], first_member_info: dict[str, Any]
) -> dict[str, Any]:
    """An ensemble's training info: its first member's with the ``record``'s ``info`` laid over
    it, ``path`` the record ``file`` and ``ensemble`` what the record holds."""
    return {
        **first_member_info,
        **record["info"],
        "path": str(file),
        ENSEMBLE_KEY: ensemble_summary(file, record),
    }


def ensemble_summary(file: str | Path, record: dict[str, Any]) -> dict[str, Any]:
    """What an ensemble's info holds under ``ENSEMBLE_KEY``: its record file, the members'
    checkpoint and the members."""
    return {
        "file": str(file),
        "which": record["which"],
        "members": [str(member) for member in record["members"]],
    }
