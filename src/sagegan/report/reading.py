"""Reading the result files a report is built from; any unreadable file is a one-line DataError
naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sagegan.errors import DataError


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"unreadable text file ({err})") from None


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (any other JSON value is an error)."""
    try:
        value = json.loads(read_text(path))
    except ValueError as err:
        raise DataError(path, f"not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise DataError(path, f"expected a JSON object, got {type(value).__name__}")
    return value


def require_keys(
    path: Path, record: dict[str, Any], keys: dict[str, type | tuple[type, ...]]
) -> None:
    """DataError naming ``path`` unless ``record`` holds every key with a value of its type."""
    for key, kind in keys.items():
        if key not in record:
            raise DataError(path, f"has no {key!r} entry")
        if not isinstance(record[key], kind):
            raise DataError(path, f"{key!r} has the wrong type ({type(record[key]).__name__})")
