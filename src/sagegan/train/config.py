"""Training configuration: nested dataclasses, presets, YAML files and command-line overrides.

The dataclass defaults are the ``paper`` preset (the SAGE-GAN paper's sizes and the reference code's
loss weights); ``cpu-small`` and ``tiny`` are override dictionaries merged over them. A run resolves
``preset <- YAML file <- overrides`` (deep merge, later wins) and writes the result as
``config.yaml`` next to its checkpoints. Unknown keys are errors naming the key, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from sagegan.data.separation import check_boundary, check_separation
from sagegan.errors import ConfigError, DataError
from sagegan.infer.device import check_device_name
from sagegan.infer.instances import (
    DEFAULT_MIN_DEPTH_PX,
    DEFAULT_MIN_DISTANCE_PX,
    DEFAULT_MIN_SIZE_PX,
    check_split_options,
)

VAL_METRICS = ("dice", "f1@0.5")
MASK_MODES = ("soft", "straight_through", "faithful_argmax")
BN_GUARDS = ("frozen", "separate", "none")
MASK_SOURCE_NAMES = ("real", "rearranged", "simulator")
AMP_MODES = ("auto", "none", "bf16", "fp16")
SCHEDULES = ("plateau", "poly")


@dataclass
class DataConfig:
    """How training pairs are read, split and cropped.

    ``augment``: options of ``sagegan.data.augment.AugmentConfig`` ({} = its defaults, None = off).
    ``samples_per_epoch``: patches per epoch (None: one per training image).
    ``gap_px``/``contact_weight``: separation targets for touching particles
    (``sagegan.data.separation``; 0 and 1 = plain foreground masks).
    ``boundary_px``: > 0 gives the segmenter an instance head, a second output channel trained on
    the bands of that width where instances meet, which the instance split cuts out of the mask
    (0 = foreground only).
    """

    patch_size: tuple[int, int] = (512, 768)
    foreground_bias: float = 0.5
    augment: dict[str, Any] | None = field(default_factory=dict)
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    samples_per_epoch: int | None = None
    databar: str | int = "auto"
    pixel_size_nm: float | None = None
    gap_px: int = 0
    contact_weight: float = 1.0
    boundary_px: int = 0


@dataclass
class ModelConfig:
    """Networks: segmenter S (any registry segmenter), generator G, both discriminators.

    ``init``: start S from this trained model ("builtin", a run folder, a checkpoint folder or a
    weights file; `sagegan.train.initial_weights`), whose architecture then replaces
    ``segmenter``/``segmenter_kwargs``.
    """

    segmenter: str = "attention_unet"
    segmenter_kwargs: dict[str, Any] = field(default_factory=lambda: {"base_width": 64, "depth": 4})
    generator_kwargs: dict[str, Any] = field(
        default_factory=lambda: {"base_width": 64, "modulation": "adain", "noise": "per_pixel"}
    )
    discriminator_kwargs: dict[str, Any] = field(default_factory=lambda: {"base_width": 64})
    init: str | None = None


@dataclass
class PretrainConfig:
    """Stage 1: the segmenter alone on real pairs.

    ``schedule`` "plateau": ReduceLROnPlateau on the validation metric in mode "max"
    (``faithful_scheduler_mode`` uses the reference's inverted "min": the LR then decays on a
    timer). "poly": per iteration, a linear warm-up over ``warmup_iterations`` then
    ``(1 - progress) ** 0.9`` decay to zero at the last iteration (nnU-Net's schedule).
    """

    epochs: int = 200
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    batch_size: int = 2
    loss: str = "bce_focal_tversky"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    scheduler_factor: float = 0.9
    scheduler_patience: int = 80
    faithful_scheduler_mode: bool = False
    patience: int = 200
    val_metric: str = "f1@0.5"
    val_every: int = 1
    schedule: str = "plateau"
    warmup_iterations: int = 0


def _reference_loss_weights() -> dict[str, float]:
    """The reference code's generator-side weights (audit 2.3)."""
    return {
        "id_mask": 100.0,  # S(real image) vs its mask
        "rec_mask": 200.0,  # S(G(mask)) vs mask: the online augmentation term
        "rec_img_l1": 50.0,  # G(S(real image)) vs real image
        "rec_img_perceptual": 100.0,
        "id_img_l1": 25.0,  # G(real mask) vs the real image of that mask
        "id_img_perceptual": 50.0,
        "adv_image": 1.0,  # LSGAN through D_I
        "adv_mask": 1.0,  # LSGAN through D_M
    }


@dataclass
class GanConfig:
    """Stage 2: S, G, D_I and D_M trained jointly (paper 2.2-2.4, audit 2.3).

    ``mask_mode``: how S's prediction enters D_M and the image cycle. "soft" passes sigmoid
    probabilities, "straight_through" a hard mask whose gradient is the sigmoid's, both let
    gradients reach S; "faithful_argmax" is the reference (hard, detached: no gradient to S).
    ``mix_max``/``mix_ramp_epochs``: probability that an iteration also trains S on generated pairs,
    0 during the generator warm-up, then ramped linearly to ``mix_max`` (reference: 0.005 per epoch
    to 0.6, i.e. ramp 120 epochs, no warm-up). ``mask_sources``: relative weights of the masks those
    pairs are generated from. ``generator_warmup_epochs``: G and both D train but S sees no
    generated image and no generator-side gradient. ``generator_freeze_epochs``: the reference's
    freeze (G not stepped). ``bn_guard``: "frozen" keeps S's BatchNorm in eval mode, "separate"
    normalises generated images with their own batch statistics without letting them touch the
    running statistics, "none" is the reference. ``seg_feedback_to_generator``: the S(G(m)) loss
    also trains G (paper 2.4). Separate Adam optimisers for S, G, D_I and D_M (the reference shares
    one Adam for G and S; separate ones give S its own learning rate and state).
    """

    epochs: int = 500
    batch_size: int = 2
    lr_segmenter: float = 1e-4
    lr_generator: float = 1e-4
    lr_discriminator: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    loss_weights: dict[str, float] = field(default_factory=_reference_loss_weights)
    mask_mode: str = "straight_through"
    mix_max: float = 0.6
    mix_ramp_epochs: int = 120
    mask_sources: dict[str, float] = field(
        default_factory=lambda: {"real": 0.5, "rearranged": 0.3, "simulator": 0.2}
    )
    generator_warmup_epochs: int = 5
    generator_freeze_epochs: int = 0
    bn_guard: str = "separate"
    seg_feedback_to_generator: bool = True
    diffaugment_policy: str = "color,translation,cutout"
    diffaugment_p: float = 0.2
    perceptual: dict[str, Any] = field(
        default_factory=lambda: {"source": "auto", "vgg_weights": None, "downscale": 1}
    )
    scheduler_factor: float = 0.85
    scheduler_patience: int = 80
    faithful_scheduler_mode: bool = False
    patience: int = 200
    val_metric: str = "f1@0.5"
    val_every: int = 1


@dataclass
class RuntimeConfig:
    """Device, precision, data loading, logging intervals and failure guards."""

    device: str = "auto"
    amp: str = "auto"
    num_workers: int = 0
    progress: bool = True
    grid_every: int = 10
    attention_every: int = 10
    attention_images: int = 2
    nan_patience: int = 5
    collapse_window: int = 50


@dataclass
class PlanConfig:
    """Self-configuration from the training set (``sagegan.train.planning``).

    ``enabled``: depth, patch size, inversion augmentation, separation targets and the iteration
    count are planned from the data and override the config's values for those keys.
    ``iterations``: stage-1 iterations; ``budget_minutes``: instead, as many as fit that wall time
    at the measured step time, and stage 1 stops at the budget.
    """

    enabled: bool = False
    iterations: int = 1500
    budget_minutes: float | None = None


@dataclass
class InstanceConfig:
    """How probability maps become instances (`sagegan.infer.instances.split_instances`): in
    validation, and in `segment` and `evaluate` with this run's model unless they are given.

    ``min_size_px``: objects smaller than this are dropped; ``min_distance_px``: the closest two
    distance-transform peaks that may split a particle; ``min_depth_px``: how far (px) a peak of
    the distance transform must rise above the saddle to a higher one to seed its own particle.
    ``tune``: after training, choose ``min_size_px`` and ``min_depth_px`` on the validation images
    (`sagegan.train.split_tuning`); these values are then the starting point.
    """

    min_size_px: int = DEFAULT_MIN_SIZE_PX
    min_distance_px: int = DEFAULT_MIN_DISTANCE_PX
    min_depth_px: float = DEFAULT_MIN_DEPTH_PX
    tune: bool = True

    def split_options(self) -> dict[str, float]:
        """The keyword arguments of `split_instances` these settings give."""
        return {
            "min_size_px": self.min_size_px,
            "min_distance_px": self.min_distance_px,
            "min_depth_px": self.min_depth_px,
        }


@dataclass
class TrainConfig:
    """Everything a training run needs besides the data folder."""

    seed: int = 0
    plan: PlanConfig = field(default_factory=PlanConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    instances: InstanceConfig = field(default_factory=InstanceConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists) that ``from_dict`` and YAML round-trip."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build and validate a config; unknown keys or wrong types raise ConfigError."""
        config = _build(cls, values, "")
        config.validate()
        return config

    def check_trains(self, stage: str = "all") -> None:
        """ConfigError when training ``stage`` ("all", "pretrain" or "gan") would run no epoch."""
        if stage == "all" and self.pretrain.epochs == 0 and self.gan.epochs == 0:
            raise ConfigError("nothing to train: pretrain.epochs and gan.epochs are both 0")
        if stage in ("pretrain", "gan") and getattr(self, stage).epochs == 0:
            raise ConfigError(f"nothing to train: --stage {stage} with {stage}.epochs 0")

    def validate(self) -> None:
        """Raise ConfigError for values outside their allowed range or set."""
        _choice("pretrain.val_metric", self.pretrain.val_metric, VAL_METRICS)
        _choice("gan.val_metric", self.gan.val_metric, VAL_METRICS)
        _choice("gan.mask_mode", self.gan.mask_mode, MASK_MODES)
        _choice("gan.bn_guard", self.gan.bn_guard, BN_GUARDS)
        _choice("runtime.amp", self.runtime.amp, AMP_MODES)
        check_device_name(self.runtime.device, "runtime.device")
        _choice("pretrain.schedule", self.pretrain.schedule, SCHEDULES)
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be in [0, 2**32), got {self.seed}")
        _positive("plan.iterations", self.plan.iterations)
        for key in ("pretrain.lr", "gan.lr_segmenter", "gan.lr_generator", "gan.lr_discriminator"):
            section, name = key.split(".")
            _positive_finite(key, getattr(getattr(self, section), name))
        if self.plan.budget_minutes is not None and not self.plan.budget_minutes > 0:
            raise ConfigError(f"plan.budget_minutes must be > 0, got {self.plan.budget_minutes}")
        if self.pretrain.warmup_iterations < 0:
            raise ConfigError(
                f"pretrain.warmup_iterations must be >= 0, got {self.pretrain.warmup_iterations}"
            )
        unknown = set(self.gan.mask_sources) - set(MASK_SOURCE_NAMES)
        if unknown:
            raise ConfigError(
                f"gan.mask_sources: unknown source {sorted(unknown)[0]!r} "
                f"(choose from {', '.join(MASK_SOURCE_NAMES)})"
            )
        if any(w < 0 for w in self.gan.mask_sources.values()) or not any(
            w > 0 for w in self.gan.mask_sources.values()
        ):
            raise ConfigError("gan.mask_sources: weights must be >= 0 with at least one > 0")
        unknown = set(self.gan.loss_weights) - set(_reference_loss_weights())
        if unknown:
            raise ConfigError(
                f"gan.loss_weights: unknown term {sorted(unknown)[0]!r} "
                f"(choose from {', '.join(_reference_loss_weights())})"
            )
        for name in ("pretrain", "gan"):
            stage = getattr(self, name)
            _positive(f"{name}.batch_size", stage.batch_size)
            _positive(f"{name}.val_every", stage.val_every)
            _positive(f"{name}.patience", stage.patience)
            if stage.epochs < 0:
                raise ConfigError(f"{name}.epochs must be >= 0, got {stage.epochs}")
        if not 0.0 <= self.gan.mix_max <= 1.0:
            raise ConfigError(f"gan.mix_max must be in [0, 1], got {self.gan.mix_max}")
        check_separation(self.data.gap_px, self.data.contact_weight)
        check_boundary(self.data.boundary_px)
        try:
            check_split_options(0.5, **self.instances.split_options())
        except ConfigError as err:
            raise ConfigError(f"instances.{err}") from None
        out_channels = self.model.segmenter_kwargs.get("out_channels", 1)
        if out_channels != 1:
            raise ConfigError(
                f"model.segmenter_kwargs.out_channels is set by data.boundary_px "
                f"(1 without, 2 with the instance head), got {out_channels}"
            )
        if min(self.data.patch_size) < 16:
            raise ConfigError(f"data.patch_size must be >= 16 px, got {self.data.patch_size}")
        _positive("runtime.nan_patience", self.runtime.nan_patience)
        _positive("runtime.collapse_window", self.runtime.collapse_window)
        if self.runtime.num_workers < 0:
            raise ConfigError(f"runtime.num_workers must be >= 0, got {self.runtime.num_workers}")


# Sized for a 2-core CPU (about 10 minutes for 40 images of 512 x 768; see
# benchmarks/train_cpu_small.py): 16-wide networks on 256 x 256 crops, a short pretraining with a
# higher learning rate, and a short GAN stage with a cheaper perceptual loss (three VGG levels at
# half resolution).
CPU_SMALL: dict[str, Any] = {
    "data": {
        "patch_size": [256, 256],
        "samples_per_epoch": 64,
        "val_fraction": 0.15,
        "test_fraction": 0.15,
    },
    "model": {
        "segmenter_kwargs": {"base_width": 16, "depth": 4},
        "generator_kwargs": {"base_width": 16},
        "discriminator_kwargs": {"base_width": 32},
    },
    "pretrain": {
        "epochs": 10,
        "lr": 1e-3,
        "batch_size": 2,
        "patience": 4,
        "scheduler_patience": 2,
        "scheduler_factor": 0.5,
    },
    "gan": {
        "epochs": 3,
        "batch_size": 2,
        "lr_segmenter": 1e-4,
        "lr_generator": 2e-4,
        "lr_discriminator": 2e-4,
        "generator_warmup_epochs": 1,
        "mix_ramp_epochs": 1,
        "mix_max": 0.5,
        "patience": 3,
        "scheduler_patience": 2,
        "scheduler_factor": 0.5,
        "perceptual": {"layers": ["relu1_1", "relu2_1", "relu3_1"], "downscale": 2},
    },
    "runtime": {"grid_every": 1, "attention_every": 1},
}

TINY: dict[str, Any] = {
    "data": {
        "patch_size": [64, 64],
        "samples_per_epoch": 4,
        "val_fraction": 0.25,
        "test_fraction": 0.25,
    },
    "model": {
        "segmenter_kwargs": {"base_width": 4, "depth": 3},
        "generator_kwargs": {"base_width": 4, "depth": 3},
        "discriminator_kwargs": {"base_width": 4},
    },
    "pretrain": {"epochs": 2, "lr": 3e-3, "batch_size": 2, "patience": 5, "val_metric": "dice"},
    "gan": {
        "epochs": 2,
        "batch_size": 2,
        "generator_warmup_epochs": 0,
        "mix_ramp_epochs": 1,
        "mix_max": 1.0,
        "patience": 5,
        "val_metric": "dice",
        "perceptual": {"source": "random", "layers": ["relu1_1"]},
    },
    "runtime": {"progress": False, "grid_every": 1, "attention_every": 1, "attention_images": 1},
}

# The default recipe: cpu-small's networks with instance normalisation (nnU-Net's choice; batch
# statistics of 2 patches from heterogeneous micrographs make a poor eval-mode BatchNorm), depth,
# patch size, inversion and the iteration count planned from the training set
# (sagegan.train.planning), a poly learning-rate schedule with warm-up, stage 1 only (the GAN
# stage has not paid on real data yet: docs/benchmarks.md; --set gan.epochs=3 adds it),
# validation ten times per run.
AUTO: dict[str, Any] = {
    "plan": {"enabled": True},
    "data": {
        **CPU_SMALL["data"],
        "augment": {"scale": 0.5, "scale_range": [0.67, 1.5]},
    },
    "model": {
        **CPU_SMALL["model"],
        "segmenter_kwargs": {**CPU_SMALL["model"]["segmenter_kwargs"], "norm": "instance"},
    },
    "pretrain": {**CPU_SMALL["pretrain"], "schedule": "poly"},
    "gan": {**CPU_SMALL["gan"], "epochs": 0},
    "runtime": {"grid_every": 1000, "attention_every": 1000},
}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "cpu-small": CPU_SMALL,
    "tiny": TINY,
    "auto": AUTO,
}


def preset_dict(name: str) -> dict[str, Any]:
    """The full config dict of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return deep_merge(TrainConfig().to_dict(), PRESETS[name])


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


def config_from_cli(
    preset: str = "cpu-small",
    config_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """Resolve preset <- YAML file <- overrides (dotted keys allowed, e.g. {"gan.epochs": 3})."""
    values = preset_dict(preset)
    if config_path is not None:
        values = deep_merge(values, load_yaml(config_path))
    if overrides:
        values = deep_merge(values, nest_dotted(overrides))
    return TrainConfig.from_dict(values)


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")


# --------------------------------------------------------------------------- helpers


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _build(cls: type, values: Any, prefix: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a mapping, got {values!r}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown config key '{prefix}{unknown[0]}' (valid keys: {', '.join(sorted(names))})"
        )
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{key}.")
        else:
            kwargs[name] = _coerce(hint, value, key)
    return cls(**kwargs)


_SCALAR_CHECKS = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    str: lambda v: isinstance(v, str),
}


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check ``value`` against a simple type hint, converting lists to tuples and ints to floats."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in get_args(hint):
            try:
                return _coerce(option, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: {value!r} is not a valid {_hint_name(hint)}")
    if hint is type(None):
        if value is None:
            return None
    elif origin is tuple:
        if isinstance(value, (list, tuple)) and len(value) == len(get_args(hint)):
            return tuple(
                _coerce(item_hint, item, key)
                for item_hint, item in zip(get_args(hint), value, strict=True)
            )
    elif origin is dict:
        if isinstance(value, dict):
            return dict(value)
    elif hint is Any:
        return value
    elif hint in _SCALAR_CHECKS and _SCALAR_CHECKS[hint](value):
        return float(value) if hint is float else value
    raise ConfigError(f"{key}: {value!r} is not a valid {_hint_name(hint)}")


def _hint_name(hint: Any) -> str:
    return (
        str(hint).replace("typing.", "")
        if get_origin(hint)
        else getattr(hint, "__name__", str(hint))
    )


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")


def _positive(key: str, value: int) -> None:
    if value < 1:
        raise ConfigError(f"{key} must be >= 1, got {value}")


def _positive_finite(key: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{key} must be a positive finite number, got {value}")
