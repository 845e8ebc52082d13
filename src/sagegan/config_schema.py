"""One mechanism for config records: dataclasses built from plain dicts with type checks, and back.

A record is a dataclass whose fields carry type hints; records may nest. ``build_record`` checks a
dict against the hints and ``plain_values`` turns a record back into plain dicts and lists (for
YAML and JSON files). Every error is a one-line ``ConfigError`` naming the full dotted key, e.g.
``pretrain.lr`` or ``data.augment.vflip``; errors raised by a nested record's own checks get its
key as a prefix.

Supported hints: bool, int, float (ints accepted and converted), str, None, Any, unions,
fixed-length tuples (lists accepted), ``list[X]``, ``dict[str, X]`` and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from typing import Any, ClassVar, Self, TypeVar, Union, get_args, get_origin, get_type_hints

from sagegan.errors import ConfigError

RecordType = TypeVar("RecordType")

_SCALAR_CHECKS = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}


class ConfigRecord:
    """Base of config dataclasses: ``from_dict`` builds and checks one, ``to_dict`` undoes it.

    ``CONFIG_NAME`` says what the record's keys are in unknown-key errors, e.g. "unknown config
    key 'gan.epoch'". A record checks its own values in ``__post_init__``.
    """

    CONFIG_NAME: ClassVar[str] = "config"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """Build from a plain dict (e.g. YAML or JSON); missing keys take their defaults."""
        return build_record(cls, cls.fill_defaults(values), "", cls.CONFIG_NAME)

    @classmethod
    def fill_defaults(cls, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """The values ``from_dict`` builds from: ``values`` as given, unless a record's defaults
        depend on one of its values (a preset name)."""
        return values

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists (tuples as lists) that ``from_dict`` turns back into an
        equal record."""
        return plain_values(self)


def build_record(
    cls: type[RecordType], values: Any, prefix: str = "", name: str = "config"
) -> RecordType:
    """The dataclass ``cls`` built from the mapping ``values`` (keys under ``prefix``, e.g.
    "data."), every value checked against its field's type hint; ``name`` is used in unknown-key
    errors ("unknown {name} key ...")."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or name} must be a mapping, got {values!r}")
    hints = get_type_hints(cls)
    names = sorted(field.name for field in dataclasses.fields(cls))
    unknown = sorted(str(key) for key in set(values) - set(names))
    if unknown:
        raise ConfigError(
            f"unknown {name} key '{prefix}{unknown[0]}' (valid keys: {', '.join(names)})"
        )
    kwargs = {
        key: check_value(hints[key], value, f"{prefix}{key}", name) for key, value in values.items()
    }
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if not prefix:
            raise
        raise ConfigError(f"{prefix}{err}") from None


def check_value(hint: Any, value: Any, key: str, name: str = "config") -> Any:
    """``value`` checked against the type hint ``hint``: lists become tuples for tuple hints, ints
    become floats for float hints and mappings become records for dataclass hints."""
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build_record(hint, value, f"{key}.", name)
    if origin in (Union, types.UnionType):
        return _check_union(hint, value, key, name)
    if hint is Any or (hint is type(None) and value is None):
        return value
    if origin is tuple and isinstance(value, (list, tuple)) and len(value) == len(get_args(hint)):
        return tuple(
            check_value(item_hint, item, key, name)
            for item_hint, item in zip(get_args(hint), value, strict=True)
        )
    if origin is list and isinstance(value, (list, tuple)):
        return [check_value(get_args(hint)[0], item, key, name) for item in value]
    if origin is dict and isinstance(value, Mapping):
        return _check_mapping(hint, value, key, name)
    if hint in _SCALAR_CHECKS and _SCALAR_CHECKS[hint](value):
        return float(value) if hint is float else value
    raise ConfigError(f"{key}: {value!r} is not a valid {hint_name(hint)}")


def _check_union(hint: Any, value: Any, key: str, name: str) -> Any:
    """The first option of the union ``hint`` that ``value`` satisfies; a mapping given where the
    union holds a record is built as that record (its own errors then name the wrong key)."""
    options = get_args(hint)
    records = [option for option in options if dataclasses.is_dataclass(option)]
    if records and isinstance(value, Mapping):
        return build_record(records[0], value, f"{key}.", name)
    for option in options:
        if option in records:
            continue
        try:
            return check_value(option, value, key, name)
        except ConfigError:
            continue
    raise ConfigError(f"{key}: {value!r} is not a valid {hint_name(hint)}")


def _check_mapping(hint: Any, value: Mapping[Any, Any], key: str, name: str) -> dict[Any, Any]:
    key_hint, value_hint = get_args(hint)
    checked = {}
    for item_key, item in value.items():
        if key_hint is str and not isinstance(item_key, str):
            raise ConfigError(f"{key}: key {item_key!r} is not a valid str")
        checked[item_key] = check_value(value_hint, item, f"{key}.{item_key}", name)
    return checked


def hint_name(hint: Any) -> str:
    """A type hint as users write it, e.g. "int | None", "tuple[float, float]", "AugmentConfig"."""
    if get_origin(hint) in (Union, types.UnionType):
        return " | ".join(hint_name(option) for option in get_args(hint))
    if get_origin(hint) is not None:
        return str(hint).replace("typing.", "")
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))


def plain_values(value: Any) -> Any:
    """Records and mappings as dicts, tuples and lists as lists, everything else as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: plain_values(getattr(value, field.name))
            for field in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {key: plain_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_values(item) for item in value]
    return value
