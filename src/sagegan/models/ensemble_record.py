"""An ensemble of trained segmenters on disk: a folder holding ``ensemble.json``.

The record names its member models (run folders, relative to the ensemble folder or absolute),
the checkpoint of each it uses (``which``) and ``info``: training-info entries that hold for the
ensemble as a whole (its instance split, chosen on the members' shared validation images), laid
over the first member's training info. Prediction (`sagegan.infer.ensemble`) averages the
members' maps; everything that reads a model's training info (split, databar, instance split)
reads the ensemble's through `ensemble_info`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sagegan.errors import ConfigError, DataError

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
    unreadable, lists no members or names a member that does not exist."""
    file = Path(file)
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(file, f"unreadable ensemble record ({err})") from None
    members = record.get("members") if isinstance(record, dict) else None
    if not isinstance(members, list) or len(members) < 2:
        raise DataError(file, "an ensemble record needs a list of at least two members")
    resolved = [file.parent / member for member in members]
    for member in resolved:
        if not member.exists():
            raise DataError(file, f"member {member} does not exist")
    return {
        "members": resolved,
        "which": str(record.get("which", "best")),
        "info": dict(record.get("info", {})),
    }


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
        absolute = Path(member).absolute()
        try:
            names.append(str(absolute.relative_to(folder.absolute())))
        except ValueError:
            names.append(str(absolute))
    file = folder / ENSEMBLE_FILE
    record = {"members": names, "which": which, "info": info}
    file.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return file


def ensemble_info(file: str | Path, first_member_info: dict[str, Any]) -> dict[str, Any]:
    """An ensemble's training info: its first member's with the record's ``info`` laid over
    it, ``path`` the record file and ``ensemble`` what it holds."""
    record = read_ensemble(file)
    return {
        **first_member_info,
        **record["info"],
        "path": str(file),
        ENSEMBLE_KEY: {
            "file": str(file),
            "which": record["which"],
            "members": [str(member) for member in record["members"]],
        },
    }
