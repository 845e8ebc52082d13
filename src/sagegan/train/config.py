"""Training configuration: the `TrainConfig` record, presets, YAML files and command-line overrides.

The record's sections are in `sagegan.train.config_sections` (their defaults are the ``paper``
preset), the rules its values must follow in `sagegan.train.config_rules`, the other presets in
`sagegan.train.config_presets` and file reading and merging in `sagegan.train.config_files`; this
module brings them together. A run resolves ``preset <- YAML file <- overrides`` (deep merge, later
wins) and writes the result as ``config.yaml`` next to its checkpoints. Unknown keys are errors
naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sagegan.config_schema import ConfigRecord
from sagegan.errors import ConfigError
from sagegan.train.config_files import (
    deep_merge,
    load_yaml,
    nest_dotted,
    parse_yaml,
    yaml_problem,
)
from sagegan.train.config_presets import AUTO, CPU_SMALL, PRESETS, TINY
from sagegan.train.config_rules import check_config
from sagegan.train.config_sections import (
    PLANNED_KEYS,
    DataConfig,
    GanConfig,
    InstanceConfig,
    ModelConfig,
    PerceptualConfig,
    PlanConfig,
    PretrainConfig,
    RuntimeConfig,
    kept_by_plan,
)

__all__ = [
    "AUTO",
    "CPU_SMALL",
    "PRESETS",
    "TINY",
    "DataConfig",
    "GanConfig",
    "InstanceConfig",
    "ModelConfig",
    "PerceptualConfig",
    "PlanConfig",
    "PretrainConfig",
    "RuntimeConfig",
    "TrainConfig",
    "config_from_cli",
    "deep_merge",
    "load_yaml",
    "nest_dotted",
    "parse_yaml",
    "preset_dict",
    "save_config",
    "yaml_problem",
]


@dataclass
class TrainConfig(ConfigRecord):
    """Everything a training run needs besides the data folder.

    ``from_dict`` (type checks, unknown keys) and ``to_dict`` come from `sagegan.config_schema`;
    building one checks its values (`sagegan.train.config_rules`).
    """

    seed: int = 0
    plan: PlanConfig = field(default_factory=PlanConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    instances: InstanceConfig = field(default_factory=InstanceConfig)

    def __post_init__(self) -> None:
        self.validate()

    def check_trains(self, stage: str = "all") -> None:
        """ConfigError when training ``stage`` ("all", "pretrain" or "gan") would run no epoch."""
        if stage == "all" and self.pretrain.epochs == 0 and self.gan.epochs == 0:
            raise ConfigError("nothing to train: pretrain.epochs and gan.epochs are both 0")
        if stage in ("pretrain", "gan") and getattr(self, stage).epochs == 0:
            raise ConfigError(f"nothing to train: --stage {stage} with {stage}.epochs 0")

    def validate(self) -> None:
        """Raise ConfigError for values outside their allowed range or set."""
        check_config(self)


def preset_dict(name: str) -> dict[str, Any]:
    """The full config dict of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return deep_merge(TrainConfig().to_dict(), PRESETS[name])


def config_from_cli(
    preset: str = "cpu-small",
    config_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """Resolve preset <- YAML file <- overrides (dotted keys allowed, e.g. {"gan.epochs": 3}).

    The planned keys (`PLANNED_KEYS`) that the file or the overrides set join ``plan.keep``, so
    that what a user sets wins over the ``auto`` preset's plan."""
    given: dict[str, Any] = {} if config_path is None else load_yaml(config_path)
    if overrides:
        given = deep_merge(given, nest_dotted(overrides))
    values = deep_merge(preset_dict(preset), given)
    leaves = _dotted_leaves(given)
    pinned = {key for key in PLANNED_KEYS if kept_by_plan(key, leaves)}
    plan = values.get("plan")
    keep = plan.get("keep", []) if isinstance(plan, dict) else None
    if pinned and isinstance(keep, list):  # any other value is refused by the config's check
        plan["keep"] = [*keep, *sorted(key for key in pinned if key not in keep)]
    return TrainConfig.from_dict(values)


def _dotted_leaves(values: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of a nested mapping's non-mapping values ({"a": {"b": 1}, "c": {}} ->
    ["a.b"]: an empty mapping sets nothing)."""
    leaves = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            leaves.extend(_dotted_leaves(value, dotted + "."))
        else:
            leaves.append(dotted)
    return leaves


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
