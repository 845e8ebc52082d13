"""The rules a training config's values must follow, checked whenever a `TrainConfig` is built.

Types are checked by `sagegan.config_schema`; these are the allowed sets and ranges, the rules that
span sections, and the open-ended settings checked against what they configure: the networks'
keyword options against the model registry, ``pretrain.loss_kwargs`` against the loss and
``gan.perceptual`` against the perceptual loss. Each error is one line naming the dotted key.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sagegan.data.resample import check_scale
from sagegan.data.separation import check_boundary, check_separation
from sagegan.errors import ConfigError
from sagegan.infer.device import check_device_name
from sagegan.infer.instances import check_split_options
from sagegan.losses.perceptual import SOURCES, resolve_layer_weights
from sagegan.losses.segmentation import check_segmentation_loss
from sagegan.models.registry import check_model_options, list_models
from sagegan.models.vgg import VGG_CONFIGS
from sagegan.train.config_sections import PLANNED_KEYS, kept_by_plan, reference_loss_weights

if TYPE_CHECKING:
    from sagegan.train.config import TrainConfig

VAL_METRICS = ("dice", "f1@0.5")
MASK_MODES = ("soft", "straight_through", "faithful_argmax")
BN_GUARDS = ("frozen", "separate", "none")
MASK_SOURCE_NAMES = ("real", "rearranged", "simulator")
AMP_MODES = ("auto", "none", "bf16", "fp16")
SCHEDULES = ("plateau", "poly")
PERCEPTUAL_SOURCES = tuple(source for source in SOURCES if source != "segmenter")
GENERATOR = "style_unet_generator"
DISCRIMINATOR = "patch_discriminator"


def check_config(config: TrainConfig) -> None:
    """Raise ConfigError for the first value outside its allowed range or set."""
    _check_choices(config)
    _check_numbers(config)
    _check_gan_tables(config)
    _check_stages(config)
    check_separation(config.data.gap_px, config.data.contact_weight)
    check_boundary(config.data.boundary_px)
    check_scale(config.data.scale)
    planned_head = config.plan.enabled and not kept_by_plan("data.boundary_px", config.plan.keep)
    if config.data.centre_map and config.data.boundary_px == 0 and not planned_head:
        raise ConfigError("data.centre_map needs the instance head: set data.boundary_px >= 1")
    _check_bank(config)
    _check_plan_keep(config.plan.keep)
    try:
        check_split_options(0.5, **config.instances.split_options())
    except ConfigError as err:
        raise ConfigError(f"instances.{err}") from None
    out_channels = config.model.segmenter_kwargs.get("out_channels", 1)
    if out_channels != 1:
        raise ConfigError(
            f"model.segmenter_kwargs.out_channels is set by data.boundary_px and "
            f"data.centre_map (1 without, 2 with the instance head, 3 with its centre map), "
            f"got {out_channels}"
        )
    if min(config.data.patch_size) < 16:
        raise ConfigError(f"data.patch_size must be >= 16 px, got {config.data.patch_size}")
    _positive("runtime.nan_patience", config.runtime.nan_patience)
    _positive("runtime.collapse_window", config.runtime.collapse_window)
    if config.runtime.num_workers < 0:
        raise ConfigError(f"runtime.num_workers must be >= 0, got {config.runtime.num_workers}")
    _check_networks(config)
    _check_losses(config)


def _check_choices(config: TrainConfig) -> None:
    _choice("pretrain.val_metric", config.pretrain.val_metric, VAL_METRICS)
    _choice("gan.val_metric", config.gan.val_metric, VAL_METRICS)
    _choice("gan.mask_mode", config.gan.mask_mode, MASK_MODES)
    _choice("gan.bn_guard", config.gan.bn_guard, BN_GUARDS)
    _choice("runtime.amp", config.runtime.amp, AMP_MODES)
    check_device_name(config.runtime.device, "runtime.device")
    _choice("pretrain.schedule", config.pretrain.schedule, SCHEDULES)


def _check_numbers(config: TrainConfig) -> None:
    if not 0 <= config.seed < 2**32:
        raise ConfigError(f"seed must be in [0, 2**32), got {config.seed}")
    _positive("plan.iterations", config.plan.iterations)
    _positive_finite("pretrain.lr", config.pretrain.lr)
    for name in ("lr_segmenter", "lr_generator", "lr_discriminator"):
        _positive_finite(f"gan.{name}", getattr(config.gan, name))
    budget = config.plan.budget_minutes
    if budget is not None and not budget > 0:
        raise ConfigError(f"plan.budget_minutes must be > 0, got {budget}")
    if config.pretrain.warmup_iterations < 0:
        raise ConfigError(
            f"pretrain.warmup_iterations must be >= 0, got {config.pretrain.warmup_iterations}"
        )


def _check_plan_keep(keep: list[str]) -> None:
    """Every ``plan.keep`` entry names a planned key or a section holding one."""
    for entry in keep:
        if not any(kept_by_plan(key, [entry]) for key in PLANNED_KEYS):
            raise ConfigError(
                f"plan.keep: {entry!r} is not a key the plan sets "
                f"(it sets {', '.join(PLANNED_KEYS)})"
            )


def _check_gan_tables(config: TrainConfig) -> None:
    """``gan.mask_sources`` and ``gan.loss_weights``: known names, usable weights."""
    sources = config.gan.mask_sources
    unknown = set(sources) - set(MASK_SOURCE_NAMES)
    if unknown:
        raise ConfigError(
            f"gan.mask_sources: unknown source {sorted(unknown)[0]!r} "
            f"(choose from {', '.join(MASK_SOURCE_NAMES)})"
        )
    if any(w < 0 for w in sources.values()) or not any(w > 0 for w in sources.values()):
        raise ConfigError("gan.mask_sources: weights must be >= 0 with at least one > 0")
    terms = reference_loss_weights()
    unknown = set(config.gan.loss_weights) - set(terms)
    if unknown:
        raise ConfigError(
            f"gan.loss_weights: unknown term {sorted(unknown)[0]!r} "
            f"(choose from {', '.join(terms)})"
        )


def _check_stages(config: TrainConfig) -> None:
    for name in ("pretrain", "gan"):
        stage = getattr(config, name)
        _positive(f"{name}.batch_size", stage.batch_size)
        _positive(f"{name}.val_every", stage.val_every)
        _positive(f"{name}.patience", stage.patience)
        if stage.epochs < 0:
            raise ConfigError(f"{name}.epochs must be >= 0, got {stage.epochs}")
    if not 0.0 <= config.pretrain.ema < 1.0:
        raise ConfigError(f"pretrain.ema must be in [0, 1), got {config.pretrain.ema}")
    if not 0.0 <= config.gan.mix_max <= 1.0:
        raise ConfigError(f"gan.mix_max must be in [0, 1], got {config.gan.mix_max}")
    _check_judge(config)
    _check_realism(config)


def _check_judge(config: TrainConfig) -> None:
    """The judge of generated pairs needs a segmenter trained on real images to copy."""
    judge = config.gan.judge_min_dice
    if not 0.0 <= judge <= 1.0:
        raise ConfigError(f"gan.judge_min_dice must be in [0, 1], got {judge}")
    if judge > 0 and config.pretrain.epochs == 0 and config.model.init is None:
        raise ConfigError(
            "gan.judge_min_dice needs a trained segmenter to judge with: pretrain "
            "(pretrain.epochs > 0) or start from one (model.init)"
        )


def _check_realism(config: TrainConfig) -> None:
    """The generator's moving average and the realism gate."""
    gan = config.gan
    if not 0.0 <= gan.generator_ema < 1.0:
        raise ConfigError(f"gan.generator_ema must be in [0, 1), got {gan.generator_ema}")
    if gan.realism_every < 0:
        raise ConfigError(f"gan.realism_every must be >= 0, got {gan.realism_every}")
    gate = gan.realism_gate_kid
    if gate is not None and not (math.isfinite(gate) and gate > 0):
        raise ConfigError(f"gan.realism_gate_kid must be a finite number > 0, got {gate}")
    if gate is not None and gan.realism_every == 0:
        raise ConfigError(
            "gan.realism_gate_kid needs realism measurements: set gan.realism_every >= 1"
        )


def _check_bank(config: TrainConfig) -> None:
    """The bank's share of the patches; the folder itself is checked when a run starts
    (`sagegan.data.bank.open_bank`), so that a saved config still loads once a bank is gone."""
    data = config.data
    if not 0.0 <= data.bank_fraction < 1.0:
        raise ConfigError(f"data.bank_fraction must be in [0, 1), got {data.bank_fraction}")
    if data.bank is not None and not data.bank.strip():
        raise ConfigError("data.bank: give a folder of synthetic pairs, or null for no bank")


def _check_networks(config: TrainConfig) -> None:
    """The segmenter is a registered segmenter and every network takes the options it is given."""
    model = config.model
    segmenters = tuple(info.name for info in list_models() if info.kind == "segmenter")
    _choice("model.segmenter", model.segmenter, segmenters)
    for key, name, options in (
        ("model.segmenter_kwargs", model.segmenter, model.segmenter_kwargs),
        ("model.generator_kwargs", GENERATOR, model.generator_kwargs),
        ("model.discriminator_kwargs", DISCRIMINATOR, model.discriminator_kwargs),
    ):
        try:
            check_model_options(name, options)
        except ConfigError as err:
            raise ConfigError(f"{key}: {err}") from None


def _check_losses(config: TrainConfig) -> None:
    """The segmentation loss takes its options; the perceptual loss's settings are usable."""
    try:
        check_segmentation_loss(config.pretrain.loss, config.pretrain.loss_kwargs)
    except ConfigError as err:
        raise ConfigError(f"pretrain.loss: {err}") from None
    perceptual = config.gan.perceptual
    _choice("gan.perceptual.source", perceptual.source, PERCEPTUAL_SOURCES)
    _positive("gan.perceptual.downscale", perceptual.downscale)
    _choice("gan.perceptual.random_arch", perceptual.random_arch, tuple(VGG_CONFIGS))
    try:
        resolve_layer_weights(perceptual.layers)
    except ConfigError as err:
        raise ConfigError(f"gan.perceptual.layers: {err}") from None


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")


def _positive(key: str, value: int) -> None:
    if value < 1:
        raise ConfigError(f"{key} must be >= 1, got {value}")


def _positive_finite(key: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{key} must be a positive finite number, got {value}")
