"""The compared methods (the SAGE-GAN paper's Table 1 and ablation) as config overrides.

Every method is the chosen preset plus a few dotted overrides, so all methods share the split,
patch size, augmentation, optimiser settings and epoch budget of the preset; only what defines the
method differs:

* ``unet``, ``unet_plus_plus``, ``half_unet``, ``dc_unet``, ``attention_unet``: that segmenter,
  pretraining only (``gan.epochs`` 0) with the preset's BCE + focal Tversky loss.
* ``cgan_seg``: cGAN-Seg, a plain U-Net as S in the GAN stage with cGAN-Seg's BCE + Dice loss.
  cGAN-Seg trains S and G jointly from scratch, so there is no pretraining
  (``pretrain.epochs`` 0) and its GAN stage gets the preset's pretraining + GAN epochs, keeping
  the same total epoch budget as ``sage_gan``.
* ``sage_gan``: Attention U-Net, pretraining then the GAN stage (the preset as is).
* ``attention_unet_dice``, ``sage_gan_dice``: the ablation, soft Dice loss instead of the hybrid
  BCE + focal Tversky loss.
* ``classical``: no network and no training: blur + Otsu + watershed
  (`sagegan.infer.classical`), the floor every learned method must beat, measured in the same run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagegan.errors import ConfigError
from sagegan.train.config import CPU_SMALL, TrainConfig, config_from_cli

PRETRAIN_ONLY = {"gan.epochs": 0}
JOINT_BUDGET_KEY = "gan.epochs"

METHODS: dict[str, dict[str, Any]] = {
    "unet": {"model.segmenter": "unet", **PRETRAIN_ONLY},
    "unet_plus_plus": {"model.segmenter": "unet_plus_plus", **PRETRAIN_ONLY},
    "half_unet": {"model.segmenter": "half_unet", **PRETRAIN_ONLY},
    "dc_unet": {"model.segmenter": "dc_unet", **PRETRAIN_ONLY},
    "attention_unet": {"model.segmenter": "attention_unet", **PRETRAIN_ONLY},
    "cgan_seg": {"model.segmenter": "unet", "pretrain.loss": "ce_dice", "pretrain.epochs": 0},
    "sage_gan": {"model.segmenter": "attention_unet"},
    "attention_unet_dice": {
        "model.segmenter": "attention_unet",
        "pretrain.loss": "dice",
        **PRETRAIN_ONLY,
    },
    "sage_gan_dice": {"model.segmenter": "attention_unet", "pretrain.loss": "dice"},
    "classical": {"pretrain.epochs": 0, "gan.epochs": 0},
}
# methods that train nothing: their runs hold only the test evaluations
UNTRAINED = frozenset({"classical"})
# methods without pretraining whose GAN stage gets the whole epoch budget
JOINT_FROM_SCRATCH = frozenset({"cgan_seg"})
# methods defined by their GAN stage: under a preset without one (auto) they get cpu-small's
GAN_METHODS = frozenset({"sage_gan", "sage_gan_dice"})
DEFAULT_METHODS: tuple[str, ...] = tuple(name for name in METHODS if name not in UNTRAINED)


def check_methods(methods: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The method names, unique and known (ConfigError listing the choices otherwise)."""
    if not methods:
        raise ConfigError(f"no method to compare (choose from {', '.join(METHODS)})")
    for name in methods:
        if name not in METHODS:
            raise ConfigError(f"unknown method {name!r} (choose from {', '.join(METHODS)})")
    if len(set(methods)) != len(methods):
        raise ConfigError(f"a method is listed twice: {', '.join(methods)}")
    return tuple(methods)


def method_config(
    name: str, preset: str, seed: int, overrides: Mapping[str, Any] | None = None
) -> TrainConfig:
    """The training config of ``name`` for one seed: preset <- shared overrides <- the method's."""
    check_methods([name])
    shared = {**(overrides or {}), "seed": seed}
    base = config_from_cli(preset, None, shared)
    specific = dict(METHODS[name])
    if name in GAN_METHODS and base.gan.epochs == 0:
        specific["gan.epochs"] = CPU_SMALL["gan"]["epochs"]
    if name in JOINT_FROM_SCRATCH:
        specific[JOINT_BUDGET_KEY] = base.pretrain.epochs + base.gan.epochs
    return config_from_cli(preset, None, {**shared, **specific})
