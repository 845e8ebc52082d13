"""The sections of the training config (`sagegan.train.config.TrainConfig`): nested records.

The defaults are the ``paper`` preset (the SAGE-GAN paper's sizes and the reference code's loss
weights). Settings whose keys are known are records (``data.augment``, ``gan.perceptual``);
settings that stay mappings are open-ended or weight tables where a missing key means 0
(networks' keyword options, ``pretrain.loss_kwargs``, ``gan.loss_weights``, ``gan.mask_sources``).
Their values are checked when a config is built (`sagegan.train.config_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagegan.data.augment import AugmentConfig
from sagegan.infer.instances import (
    DEFAULT_MIN_DEPTH_PX,
    DEFAULT_MIN_DISTANCE_PX,
    DEFAULT_MIN_SIZE_PX,
)


@dataclass
class DataConfig:
    """How training pairs are read, split and cropped.

    ``augment``: the training augmentation (`sagegan.data.augment.AugmentConfig`; None = off).
    ``samples_per_epoch``: patches per epoch (None: one per training image).
    ``gap_px``/``contact_weight``: separation targets for touching particles
    (``sagegan.data.separation``; 0 and 1 = plain foreground masks).
    ``boundary_px``: > 0 gives the segmenter an instance head, a second output channel trained on
    the bands of that width where instances meet, which the instance split cuts out of the mask
    (0 = foreground only).
    ``centre_map``: with the instance head, a third output channel trained on each particle's
    distance to its border divided by its largest (`sagegan.data.separation.centre_target`), whose
    cores seed the instance split instead of the mask's distance transform.
    ``bank``: a folder of synthetic image/mask pairs (``sagegan generate`` or ``sagegan synth``
    output, or any dataset layout; None = no bank) that pretraining also draws patches from.
    ``scale``: the working resolution, a factor in [0.25, 4]: training resamples its images by
    it (0.5: half the resolution, so a patch covers four times the area at the same cost), and
    validation and inference predict at it and take the maps back to the native grid
    (`sagegan.data.resample`); sizes, scores and split options stay in native pixels. The
    ``auto`` preset's plan chooses it (`sagegan.train.planning_rules.plan_scale`) unless set.
    ``bank_fraction``: the share of each pretraining epoch's patches cut from the bank, in [0, 1);
    the rest come from the real training images, so ``samples_per_epoch`` (the compute) stays the
    same with or without a bank. Bank pairs are training samples only (`sagegan.data.bank`); the
    GAN stage (its image discriminator must take real images for real) and validation use real
    images only.
    """

    patch_size: tuple[int, int] = (512, 768)
    foreground_bias: float = 0.5
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    samples_per_epoch: int | None = None
    databar: str | int = "auto"
    pixel_size_nm: float | None = None
    gap_px: int = 0
    contact_weight: float = 1.0
    boundary_px: int = 0
    centre_map: bool = False
    scale: float = 1.0
    bank: str | None = None
    bank_fraction: float = 0.5


@dataclass
class ModelConfig:
    """Networks: segmenter S (any registry segmenter), generator G, both discriminators.

    ``init``: start S from this trained model ("builtin", a run folder, a checkpoint folder or a
    weights file; `sagegan.train.initial_weights`), whose architecture then replaces
    ``segmenter``/``segmenter_kwargs``. The ``*_kwargs`` are the networks' keyword options
    (`sagegan.models.registry`; they differ per architecture).
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
    ``ema``: decay of an exponential moving average of the segmenter's weights (0 = none; warmed
    up as min(decay, (1 + t) / (10 + t)) after t steps); validation, selection and the
    checkpoint's ``segmenter`` are then the average, and the trained weights resume from the
    stage state. ``select_start``: when fine-tuning (``model.init``), the starting weights are
    validated and checkpointed before the first step and stay the best checkpoint unless an
    epoch validates strictly better, so fine-tuning never selects weights that score lower on
    the validation images than those it started from.
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
    ema: float = 0.0
    select_start: bool = True


def reference_loss_weights() -> dict[str, float]:
    """The reference code's generator-side weights (audit 2.3)."""
    return {
        "id_mask": 100.0,  # S(real image) vs its mask (and instance head targets, if any)
        "rec_mask": 200.0,  # S(G(mask)) vs mask (and instance head targets): online augmentation
        "rec_img_l1": 50.0,  # G(S(real image)) vs real image
        "rec_img_perceptual": 100.0,
        "id_img_l1": 25.0,  # G(real mask) vs the real image of that mask
        "id_img_perceptual": 50.0,
        "adv_image": 1.0,  # LSGAN through D_I
        "adv_mask": 1.0,  # LSGAN through D_M
    }


@dataclass
class PerceptualConfig:
    """The GAN stage's perceptual loss (`sagegan.losses.perceptual.build_perceptual_loss`).

    ``source``: where the VGG weights come from ("auto", "file", "stlpips", "random");
    ``vgg_weights``: a weights file; ``layers``: VGG layer names (reference weights) or a mapping
    layer -> weight (None: relu1_1..relu5_1); ``downscale``: images are shrunk by this factor
    first; ``random_arch``: the architecture of random weights.
    """

    source: str = "auto"
    vgg_weights: str | None = None
    downscale: int = 1
    layers: str | list[str] | dict[str, float] | None = None
    random_arch: str = "vgg19"

    def loss_options(self) -> dict[str, Any]:
        """The keyword arguments of `build_perceptual_loss` these settings give."""
        return {
            "source": self.source,
            "vgg_weights": self.vgg_weights,
            "layers": self.layers,
            "downscale": self.downscale,
            "random_arch": self.random_arch,
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

    Data-efficient GAN practice (issue 17): ``generator_ema``: decay of an exponential moving
    average of G's weights (0 = none; warmed up as min(decay, (1 + t) / (10 + t)) after t steps),
    kept beside G and saved as the checkpoint's ``generator_ema`` (what ``sagegan generate``
    uses). ``realism_every``: every that many GAN epochs (default 1), the images G (not its
    average: online augmentation draws from G) makes of the validation masks are compared with the
    validation images
    (KID on the builtin model's features plus network-free distances,
    `sagegan.train.gan_realism`; 0 = never). ``realism_gate_kid``: online augmentation stays off
    until a measured KID is at most this value, and the ``mix_*`` ramp starts at the epoch after
    (None: no gate, the ramp starts after the warm-up). ``judge_min_dice``: when > 0, a frozen
    copy of the segmenter the stage starts from judges every generated pair, and pairs whose mask
    it reads back from the drawing with a foreground Dice under this value are left out of the
    online-augmentation loss (`sagegan.train.gan_judge`; 0 = every pair counts).
    """

    epochs: int = 500
    batch_size: int = 2
    lr_segmenter: float = 1e-4
    lr_generator: float = 1e-4
    lr_discriminator: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    loss_weights: dict[str, float] = field(default_factory=reference_loss_weights)
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
    generator_ema: float = 0.0
    realism_every: int = 1
    realism_gate_kid: float | None = None
    judge_min_dice: float = 0.0
    diffaugment_policy: str = "color,translation,cutout"
    diffaugment_p: float = 0.2
    perceptual: PerceptualConfig = field(default_factory=PerceptualConfig)
    scheduler_factor: float = 0.85
    scheduler_patience: int = 80
    faithful_scheduler_mode: bool = False
    patience: int = 200
    val_metric: str = "f1@0.5"
    val_every: int = 1


@dataclass
class RuntimeConfig:
    """Device, precision, memory layout, data loading, logging intervals and failure guards.

    ``channels_last``: the networks train with their weights (and so their activations) in the
    channels-last layout: on the project's CPU up to 1.5x faster per bf16 step for
    batch-normalised networks (the ``cpu-small`` and ``paper`` presets), no faster with the auto
    recipe's instance normalisation (docs/benchmarks.md, "Training steps").
    """

    device: str = "auto"
    amp: str = "auto"
    channels_last: bool = False
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

    ``enabled``: working resolution, depth, patch size, inversion augmentation, separation targets
    and the iteration count are planned from the data and override the config's values for those
    keys (`PLANNED_KEYS`). ``iterations``: stage-1 iterations; ``budget_minutes``: instead, as many
    as fit that wall time at the measured step time (re-fitted to the loop's own speed after the
    first epoch and when it changes: `sagegan.train.replanning`), and stage 1 stops at the budget.
    ``keep``: dotted keys (or sections holding them) that the plan leaves as configured;
    `config_from_cli` adds every planned key that a config file or an override sets.
    """

    enabled: bool = False
    iterations: int = 1500
    budget_minutes: float | None = None
    keep: list[str] = field(default_factory=list)


# the config keys a plan sets (`sagegan.train.planning.Plan.overrides`)
PLANNED_KEYS = (
    "data.scale",
    "data.patch_size",
    "data.samples_per_epoch",
    "data.augment.invert",
    "data.boundary_px",
    "data.contact_weight",
    "instances.min_size_px",
    "model.segmenter_kwargs.depth",
    "model.segmenter_kwargs.max_width",
    "pretrain.epochs",
    "pretrain.warmup_iterations",
    "pretrain.patience",
    "runtime.amp",
)


def kept_by_plan(key: str, keep: list[str]) -> bool:
    """Whether ``key`` or a section holding it is in ``keep`` (``plan.keep``)."""
    return any(key == kept or key.startswith(kept + ".") for kept in keep)


@dataclass
class InstanceConfig:
    """How probability maps become instances (`sagegan.infer.instances.split_instances`): in
    validation, and in `segment` and `evaluate` with this run's model unless they are given.

    ``min_size_px``: objects smaller than this are dropped; ``min_distance_px``: the closest two
    distance-transform peaks that may split a particle; ``min_depth_px``: how far (px) a peak of
    the distance transform must rise above the saddle to a higher one to seed its own particle.
    ``min_size_fraction``: when > 0, each image's smallest object is raised to this fraction of
    its typical particle's area (`split_instances`, step 5; the builtin model uses 0.3), and
    ``min_depth_fraction`` > 0 sets the seed depth to this fraction of its inscribed radius.
    ``tune``: after training, choose ``min_size_px``, ``min_depth_px`` and whether to scale the
    smallest object and the seed depth per image on the validation images
    (`sagegan.train.split_tuning`); these values are then the starting point.
    """

    min_size_px: int = DEFAULT_MIN_SIZE_PX
    min_distance_px: int = DEFAULT_MIN_DISTANCE_PX
    min_depth_px: float = DEFAULT_MIN_DEPTH_PX
    min_size_fraction: float = 0.0
    min_depth_fraction: float = 0.0
    tune: bool = True

    def split_options(self) -> dict[str, float]:
        """The keyword arguments of `split_instances` these settings give."""
        return {
            "min_size_px": self.min_size_px,
            "min_distance_px": self.min_distance_px,
            "min_depth_px": self.min_depth_px,
            "min_size_fraction": self.min_size_fraction,
            "min_depth_fraction": self.min_depth_fraction,
        }
