"""Imports flow one way along the package chain of docs/method.md: never from a later package."""

from __future__ import annotations

import ast
from pathlib import Path

import sagegan

CHAIN = [
    "errors",
    "config_schema",
    "data",
    "synth",
    "models",
    "losses",
    "metrics",
    "infer",
    "train",
    "evaluate",
    "generate",
    "compare",
    "analysis",
    "report",
    "napari_plugin",
    "demo",
    "commands",
    "cli",
]
PACKAGE_ROOT = Path(sagegan.__file__).parent


def imported_sagegan_parts(path: Path) -> set[str]:
    """First component after `sagegan.` of every import in the file (top level or nested)."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sagegan."):
            parts.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            parts.update(
                alias.name.split(".")[1]
                for alias in node.names
                if alias.name.startswith("sagegan.")
            )
    return parts


def test_every_module_belongs_to_the_chain() -> None:
    top_level = {
        p.name.removesuffix(".py") for p in PACKAGE_ROOT.iterdir() if not p.name.startswith("_")
    }
    assert top_level - {"py.typed"} <= set(CHAIN), top_level - set(CHAIN)


def test_imports_flow_one_way() -> None:
    rank = {name: index for index, name in enumerate(CHAIN)}
    backwards = []
    for path in PACKAGE_ROOT.rglob("*.py"):
        part = path.relative_to(PACKAGE_ROOT).parts[0].removesuffix(".py")
        if part not in rank:
            continue
        for imported in imported_sagegan_parts(path):
            if imported in rank and rank[imported] > rank[part]:
                backwards.append(f"{path.relative_to(PACKAGE_ROOT)} imports sagegan.{imported}")
    assert not backwards, backwards
