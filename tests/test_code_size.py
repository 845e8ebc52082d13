"""Size limits of the package's code (issue 18): short functions in small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import sagegan

PACKAGE_ROOT = Path(sagegan.__file__).parent
MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 400


def _sources() -> list[Path]:
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def _function_lengths(path: Path) -> list[tuple[str, int]]:
    """(file:line name, lines from ``def`` to the end of the body) of every function and method,
    nested ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(PACKAGE_ROOT)
    return [
        (f"{where}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def test_the_package_has_sources() -> None:
    assert len(_sources()) > 50 and PACKAGE_ROOT / "cli.py" in _sources()


def test_no_function_is_longer_than_80_lines() -> None:
    too_long = [
        f"{name} ({length} lines)"
        for path in _sources()
        for name, length in _function_lengths(path)
        if length > MAX_FUNCTION_LINES
    ]
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def test_no_file_is_longer_than_400_lines() -> None:
    too_long = [
        f"{path.relative_to(PACKAGE_ROOT)} ({length} lines)"
        for path in _sources()
        if (length := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES
    ]
    assert not too_long, f"files over {MAX_FILE_LINES} lines: {too_long}"
