"""The config mechanism: nested records from plain dicts with type checks, and back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from sagegan.config_schema import ConfigRecord, build_record, check_value, hint_name
from sagegan.errors import ConfigError


@dataclass
class Inner:
    rate: float = 0.5
    span: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ConfigError(f"rate must be in [0, 1], got {self.rate}")


@dataclass
class Outer(ConfigRecord):
    name: str = "a"
    count: int | None = None
    inner: Inner = field(default_factory=Inner)
    optional: Inner | None = None
    weights: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    CONFIG_NAME = "outer options"


@dataclass(frozen=True)
class Preset(ConfigRecord):
    kind: str = "small"
    size: int = 1

    @classmethod
    def fill_defaults(cls, values: Any) -> dict[str, Any]:
        return {"size": 10 if values.get("kind") == "big" else 1, **values}


def test_nested_records_are_built_with_defaults_and_converted_values():
    outer = Outer.from_dict(
        {"inner": {"rate": 1, "span": [1, 2]}, "weights": {"x": 2}, "tags": ["t"], "count": 3}
    )
    assert outer.inner == Inner(rate=1.0, span=(1.0, 2.0))
    assert isinstance(outer.inner.rate, float) and isinstance(outer.weights["x"], float)
    assert (outer.name, outer.count, outer.optional, outer.tags) == ("a", 3, None, ["t"])


def test_to_dict_is_plain_and_round_trips():
    outer = Outer(inner=Inner(span=(0.2, 0.4)), optional=Inner(rate=0.1), extra={"k": (1, 2)})
    plain = outer.to_dict()
    assert plain["inner"] == {"rate": 0.5, "span": [0.2, 0.4]}
    assert plain["optional"] == {"rate": 0.1, "span": [0.0, 1.0]}
    assert plain["extra"] == {"k": [1, 2]}
    assert Outer.from_dict(plain) == Outer(
        inner=Inner(span=(0.2, 0.4)), optional=Inner(rate=0.1), extra={"k": [1, 2]}
    )


def test_optional_record_takes_none_or_a_mapping():
    assert Outer.from_dict({"optional": None}).optional is None
    assert Outer.from_dict({"optional": {"rate": 0.2}}).optional == Inner(rate=0.2)
    with pytest.raises(ConfigError, match=r"^optional: 5 is not a valid Inner \| None$"):
        Outer.from_dict({"optional": 5})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"inner": {"rte": 1}}, "unknown outer options key 'inner.rte' (valid keys: rate, span)"),
        ({"optional": {"x": 1}}, "unknown outer options key 'optional.x'"),
        ({"inner": {"rate": "high"}}, "inner.rate: 'high' is not a valid float"),
        ({"inner": {"span": [1]}}, r"inner.span: [1] is not a valid tuple[float, float]"),
        ({"inner": 3}, "inner must be a mapping, got 3"),
        ({"weights": {"x": "heavy"}}, "weights.x: 'heavy' is not a valid float"),
        ({"weights": {1: 1.0}}, "weights: key 1 is not a valid str"),
        ({"tags": "t"}, "tags: 't' is not a valid list[str]"),
        ({"count": True}, "count: True is not a valid int | None"),
        ({"inner": {"rate": 2}}, "inner.rate must be in [0, 1], got 2.0"),
        ({"optional": {"rate": -1}}, "optional.rate must be in [0, 1], got -1.0"),
    ],
)
def test_errors_are_one_line_and_name_the_dotted_key(values, message):
    with pytest.raises(ConfigError) as caught:
        Outer.from_dict(values)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_root_errors_keep_their_own_message():
    with pytest.raises(ConfigError, match=r"^outer options must be a mapping, got"):
        Outer.from_dict([1])
    with pytest.raises(ConfigError, match=r"^unknown outer options key 'colour'"):
        Outer.from_dict({"colour": 1})


def test_fill_defaults_decides_missing_keys():
    assert Preset.from_dict({"kind": "big"}) == Preset("big", 10)
    assert Preset.from_dict({"kind": "big", "size": 3}) == Preset("big", 3)
    assert Preset.from_dict({}) == Preset("small", 1)


def test_check_value_and_hint_names():
    assert check_value(tuple[int, int], [2, 3], "size") == (2, 3)
    assert check_value(float | None, 1, "x") == 1.0
    assert check_value(Any, {"a": object}, "x") == {"a": object}
    assert build_record(Inner, {}, "data.", "config") == Inner()
    assert hint_name(dict[str, Any]) == "dict[str, Any]"
    assert hint_name(str | int) == "str | int"
    with pytest.raises(ConfigError, match=r"^data\.inner\.rate: None is not a valid float$"):
        build_record(Outer, {"inner": {"rate": None}}, "data.")
