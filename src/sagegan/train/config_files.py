"""Config files and override dicts: YAML reading (YAML 1.2 floats), deep merges, dotted keys."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from sagegan.errors import DataError


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``base`` with ``update`` merged in; nested dicts merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def nest_dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """Turn {"gan.epochs": 3} into {"gan": {"epochs": 3}}; nested dict values are kept."""
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            node[leaf] = deep_merge(node[leaf], value)
        else:
            node[leaf] = value
    return nested


class _ConfigLoader(yaml.SafeLoader):
    """The safe YAML loader, with YAML 1.2 floats: ``1e-3`` is a number, not the text "1e-3"."""


_ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.(?:inf|Inf|INF)|[-+]\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """YAML text as Python values (safe loading; ``1e-3`` read as a float)."""
    return yaml.load(text, Loader=_ConfigLoader)  # a SafeLoader subclass: no arbitrary objects


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file as a dict (empty file -> {}); DataError naming the file when it
    cannot be read, is not UTF-8 text, is not valid YAML or holds no mapping."""
    path = Path(path)
    try:
        values = parse_yaml(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(path, f"cannot read config file ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"config file is not UTF-8 text ({err.reason})") from None
    except yaml.YAMLError as err:
        raise DataError(path, f"not valid YAML ({yaml_problem(err)})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise DataError(path, f"a config file must hold a mapping, got {type(values).__name__}")
    return values


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line, e.g. "expected ',' or ']', but got '<stream end>' (line 2)"."""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    return problem if mark is None else f"{problem} (line {mark.line + 1})"
