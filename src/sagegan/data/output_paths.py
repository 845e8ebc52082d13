"""Checks of where a command will write, made before any work starts.

A command that fails only after minutes of work because its output folder is a file, or sits
under a folder it may not write to, wastes the work; these checks name the path and the problem
in one line (DataError) first. Nothing is created here.
"""

from __future__ import annotations

import os
from pathlib import Path

from sagegan.errors import DataError


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def _check_writable_parent(path: Path) -> None:
    parent = _nearest_existing(path.parent if path.parent != path else path)
    if not parent.is_dir():
        raise DataError(path, f"cannot be created: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(path, f"cannot be created: no permission to write in {parent}")


def check_output_folder(path: str | Path) -> None:
    """DataError unless ``path`` is a writable folder or can be created as one."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise DataError(path, "exists and is a file: the output must be a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise DataError(path, "is not writable (no permission)")
        return
    _check_writable_parent(path)


def check_output_file(path: str | Path) -> None:
    """DataError unless ``path`` is a writable file (or can be created as one)."""
    path = Path(path)
    if path.is_dir():
        raise DataError(path, "is a folder: give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise DataError(path, "is not writable (no permission)")
        return
    _check_writable_parent(path)
