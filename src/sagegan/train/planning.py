"""Self-configuration from the training set (the ``auto`` preset), in the spirit of nnU-Net's plans.

A :class:`~sagegan.train.dataset_fingerprint.Fingerprint` summarises the training images and
masks: image sizes, particle sizes, foreground fraction, contrast polarity and how close the
particles lie. :func:`make_plan` turns it into the settings that depend on the data (the
rules for single aspects live in `sagegan.train.planning_rules`):

* **working resolution** (``data.scale``): half when the particles are large for the network
  (10th-percentile diameter at least 12 px, the median image at least 512 px on its short side,
  no 1-px gaps in the masks), else native; everything below is planned at that resolution;
* **depth** so that the network's receptive field spans twice the 90th-percentile particle
  diameter (a network that sees only the inside of a large particle cannot tell it from the
  background: it then paints edges), between 4 and 6 levels, widths capped so that depth is cheap;
* **patch size**: the receptive field (at least 256 px), at most the median image's short side
  and ``planning_rules.MAX_PATCH_PX`` (CPU cost grows with the patch area);
* **intensity inversion** in the augmentation when the training set mixes bright-on-dark and
  dark-on-bright particles;
* **an instance head** when particles touch: a second output channel trained on the bands where
  instances meet (`sagegan.data.separation.boundary_target`), which the instance split cuts out
  before seeding, 2 px wide where the masks keep touching particles apart by 1-px gaps (so that
  the band reaches across them); and heavier loss on the background between particles that nearly
  touch;
* **the smallest object kept** by the instance split: half the area of a 10th-percentile particle
  (at least 3 px), so datasets of 3-5 px particles keep them and datasets of large particles drop
  the specks a network leaves on textured backgrounds;
* **iterations**: a fixed count, or as many as fit a wall-clock budget at the measured step time
  (re-fitted to the loop's own speed after the first epoch and whenever it changes:
  `sagegan.train.replanning`), with a linear warm-up and polynomial learning-rate decay,
  validating about ten times;
* **precision** on a CPU with native bf16: bf16 autocast when a few timed training steps of the
  planned network run at least ``step_timing.BF16_MIN_GAIN`` times faster than float32 (on CPUs
  without it bf16 is several times slower, and it is not tried).

The plan is written to the run folder as ``plan.json`` and printed; a resumed run reads it back.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from sagegan.data.dataset import Sample, SegmentationDataset
from sagegan.data.resample import resample_sample
from sagegan.errors import ConfigError, DataError
from sagegan.infer.instances import DEFAULT_MIN_SIZE_PX
from sagegan.models.run_folder import RunFolder
from sagegan.train.config import TrainConfig
from sagegan.train.config_sections import kept_by_plan
from sagegan.train.dataset_fingerprint import Fingerprint, fingerprint
from sagegan.train.planning_rules import (
    CONTACT_SHARE,
    plan_boundary,
    plan_scale,
    plan_shape,
    receptive_field,
)
from sagegan.train.step_timing import data_seconds, measure_step_seconds, planned_amp

MAX_WIDTH = 128
VALIDATIONS = 10
CONTACT_WEIGHT = 5.0
MIN_SIZE_FLOOR_PX = 3
WARMUP_SHARE = 0.05
# the loop's steps run slower than the timed ones (loader, logging, a busy machine): plan for it
STEP_MARGIN = 1.2


@dataclass
class Plan:
    """The planned settings and why; ``overrides`` are dotted config keys."""

    fingerprint: Fingerprint
    depth: int
    receptive_field_px: int
    patch_px: int
    invert: float
    boundary_px: int
    contact_weight: float
    min_size_px: int
    iterations: int
    iterations_per_epoch: int
    warmup_iterations: int
    step_seconds: float | None = None
    budget_seconds: float | None = None
    amp: str = "auto"  # runtime.amp: "bf16" when measured faster on this CPU
    scale: float = 1.0  # data.scale: the working resolution
    reasons: list[str] = field(default_factory=list)

    def overrides(self, batch_size: int) -> dict[str, Any]:
        """The dotted config overrides that carry out the plan."""
        epochs = math.ceil(self.iterations / self.iterations_per_epoch)
        return {
            "data.scale": self.scale,
            "data.patch_size": [self.patch_px, self.patch_px],
            "data.samples_per_epoch": self.iterations_per_epoch * batch_size,
            "data.augment.invert": self.invert,
            "data.boundary_px": self.boundary_px,
            "data.contact_weight": self.contact_weight,
            "instances.min_size_px": self.min_size_px,
            "model.segmenter_kwargs.depth": self.depth,
            "model.segmenter_kwargs.max_width": MAX_WIDTH,
            "pretrain.epochs": epochs,
            "pretrain.warmup_iterations": self.warmup_iterations,
            "pretrain.patience": epochs,
            "runtime.amp": self.amp,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One paragraph for the console."""
        fp = self.fingerprint
        d = fp.diameter_px
        at = "" if self.scale == 1.0 else f" at {self.scale:g}x their resolution"
        lines = [
            f"plan from {fp.images} training images{at} ({fp.particles} particles, diameter "
            f"p10/median/p90 {d['p10']:.0f}/{d['median']:.0f}/{d['p90']:.0f} px, "
            f"{100 * fp.foreground_fraction:.0f} % foreground, "
            f"{100 * fp.bright_share:.0f} % bright-on-dark):",
            f"  depth {self.depth} (receptive field {self.receptive_field_px} px), "
            f"patch {self.patch_px} px, inversion {self.invert:.1f}, "
            f"boundary {self.boundary_px} px, smallest object {self.min_size_px} px, "
            f"contact weight {self.contact_weight:.0f}, "
            f"{self.iterations} iterations ({self.warmup_iterations} warm-up, poly decay), "
            f"validation every {self.iterations_per_epoch}"
            + (", bf16 autocast" if self.amp == "bf16" else ""),
        ]
        if self.step_seconds is not None:
            lines.append(
                f"  measured {self.step_seconds:.2f} s per iteration: about "
                f"{self.iterations * self.step_seconds / 60:.0f} min of training"
            )
        return "\n".join(lines + [f"  - {reason}" for reason in self.reasons])


def make_plan(
    fp: Fingerprint,
    device: str,
    iterations: int,
    step_seconds: float | None = None,
    budget_seconds: float | None = None,
    validation_seconds: float = 0.0,
    scale: float = 1.0,
) -> Plan:
    """The plan: shape from the fingerprint, ``iterations`` (or as many as fit ``budget_seconds``
    at ``step_seconds``, after ``VALIDATIONS + 1`` validations of ``validation_seconds``).
    ``fp`` is taken at the working resolution ``scale``; the smallest object is planned in
    native pixels, where the instance split runs."""
    depth, patch, reasons = plan_shape(fp, device)
    invert = 0.5 if fp.mixed_polarity else 0.0
    boundary_px, reason = plan_boundary(fp)
    if reason:
        reasons.append(reason)
    contact_weight = CONTACT_WEIGHT if fp.near_share >= CONTACT_SHARE else 1.0
    small_area = math.pi / 4 * (fp.diameter_px["p10"] / scale) ** 2
    min_size_px = max(MIN_SIZE_FLOOR_PX, round(small_area / 2))
    reasons.append(
        f"10 % of the particles are under {small_area:.0f} px: the instance split keeps objects "
        f"from {min_size_px} px (default {DEFAULT_MIN_SIZE_PX})"
    )
    if contact_weight > 1:
        reasons.append(
            f"{100 * fp.near_share:.0f} % of the particles lie within 2 px of another: background "
            f"between them weighs {contact_weight:.0f}x in the loss"
        )
    if invert:
        reasons.append(
            f"both contrasts occur ({100 * fp.bright_share:.0f} % bright-on-dark): "
            "intensity inversion in the augmentation"
        )
    if budget_seconds is not None:
        if step_seconds is None or not step_seconds > 0:
            raise ConfigError("a time budget needs a measured step time")
        usable = budget_seconds - (VALIDATIONS + 1) * validation_seconds
        iterations = int(usable / (step_seconds * STEP_MARGIN))
        reasons.append(
            f"{iterations} iterations fit the {budget_seconds / 60:.0f} min budget "
            f"({step_seconds:.2f} s each, {validation_seconds:.0f} s per validation)"
        )
        if iterations < VALIDATIONS:
            raise ConfigError(
                f"a budget of {budget_seconds / 60:.1f} min fits only {max(iterations, 0)} "
                f"training iterations at {step_seconds:.2f} s each: give a larger --budget"
            )
    if iterations < 1:
        raise ConfigError(f"iterations must be >= 1, got {iterations}")
    per_epoch = max(1, math.ceil(iterations / VALIDATIONS))
    return Plan(
        fingerprint=fp,
        depth=depth,
        receptive_field_px=receptive_field(depth),
        patch_px=patch,
        invert=invert,
        boundary_px=boundary_px,
        contact_weight=contact_weight,
        min_size_px=min_size_px,
        iterations=per_epoch * math.ceil(iterations / per_epoch),
        iterations_per_epoch=per_epoch,
        warmup_iterations=max(1, int(WARMUP_SHARE * iterations)),
        step_seconds=step_seconds,
        budget_seconds=budget_seconds,
        scale=scale,
        reasons=reasons,
    )


def save_plan(plan: Plan, overrides: dict[str, Any], run_dir: Path) -> None:
    """Write the plan and the overrides that carry it out as ``RUN/plan.json``."""
    write_plan_document(run_dir, {"plan": plan.to_dict(), "overrides": overrides})


def write_plan_document(run_dir: Path, document: dict[str, Any]) -> None:
    """Write ``RUN/plan.json`` (the plan, its overrides and what later changed it)."""
    RunFolder(run_dir).plan_path().write_text(json.dumps(document, indent=2) + "\n", "utf-8")


def load_plan_overrides(run_dir: Path) -> dict[str, Any] | None:
    """The overrides recorded in a run's ``plan.json`` (None when the run has no plan)."""
    path = RunFolder(run_dir).plan_path()
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))["overrides"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(path, f"unreadable plan ({err})") from None


def plan_run(
    config: TrainConfig, train: list[Sample], val: list[Sample], device: torch.device
) -> tuple[Plan, dict[str, Any]]:
    """The plan of a run and its dotted config overrides, from its training samples (native;
    planned at the working resolution it chooses, `planning_rules.plan_scale`, or at
    ``data.scale`` when kept) and validation samples (native); training steps are timed only to
    choose the precision on a CPU with native bf16 and when a budget asks for the step time."""
    native = None if kept_by_plan("data.scale", config.plan.keep) else _fingerprint(train)
    scale, scale_reason = _working_scale(config, native)
    train = [resample_sample(sample, scale) for sample in train]
    fp = native if native is not None and scale == 1.0 else _fingerprint(train)
    batch = config.pretrain.batch_size
    patch, step_seconds = _step_timer(config, fp, device)
    amp, amp_reason = planned_amp(config, step_seconds, device)
    step, validation = None, 0.0
    if config.plan.budget_minutes is not None:
        # timed in the precision the run trains in: planned bf16, else as configured
        step = step_seconds(amp if amp == "bf16" else config.runtime.amp)
        dataset = SegmentationDataset(train, (patch, patch), config.data.augment)
        step += data_seconds(dataset, batch)
        # a forward pass costs about a third of a training step; whole images, plus the split
        val_pixels = sum(s.image.size for s in val) * scale**2
        validation = val_pixels / (patch * patch * batch) * step / 3 * 2
    plan = make_plan(
        fp,
        device.type,
        config.plan.iterations,
        step_seconds=step,
        budget_seconds=None if step is None else 60.0 * config.plan.budget_minutes,
        validation_seconds=validation,
        scale=scale,
    )
    plan.amp = amp
    if scale_reason:
        plan.reasons.insert(0, scale_reason)
    if amp_reason:
        plan.reasons.append(amp_reason)
    overrides = plan.overrides(batch)
    if config.model.init is not None:
        overrides = _init_architecture_kept(plan, overrides, config)
    if config.data.augment is None:  # augmentation off stays off
        overrides.pop("data.augment.invert")
    if config.data.centre_map and plan.boundary_px == 0:
        plan.boundary_px = overrides["data.boundary_px"] = 1
        plan.reasons.append("the centre map (data.centre_map) needs the instance head: 1-px bands")
    kept = sorted(key for key in overrides if kept_by_plan(key, config.plan.keep))
    if kept:
        plan.reasons.append(f"kept as configured (plan.keep): {', '.join(kept)}")
        _record_kept_shape(plan, config, kept)
    return plan, {key: value for key, value in overrides.items() if key not in kept}


def _fingerprint(samples: list[Sample]) -> Fingerprint:
    return fingerprint([s.image for s in samples], [s.labels for s in samples])


def _working_scale(config: TrainConfig, native: Fingerprint | None) -> tuple[float, str | None]:
    """(working resolution, reason or None): the one `plan_scale` chooses from the native
    training set's fingerprint ``native``, or ``data.scale`` when ``plan.keep`` holds it (set,
    or the resolution ``model.init`` was trained at; ``native`` is then None)."""
    if native is not None:
        return plan_scale(native)
    scale = config.data.scale
    return scale, None if scale == 1.0 else (
        f"images read at {scale:g}x their resolution (data.scale, kept): particle sizes, depth, "
        "patch and bands are at that resolution, the smallest object in native px"
    )


def _step_timer(
    config: TrainConfig, fp: Fingerprint, device: torch.device
) -> tuple[int, Callable[[str], float]]:
    """The planned patch side and a timer of the planned network's training steps there
    (seconds per step for a ``runtime.amp`` value, measured once per value); kept settings
    are honoured."""
    depth, patch, _ = plan_shape(fp, device.type)
    planned = (
        {}  # the network of model.init is trained as it is
        if config.model.init is not None
        else _unkept({"depth": depth, "max_width": MAX_WIDTH}, config.plan.keep)
    )
    kwargs = {**config.model.segmenter_kwargs, **planned}
    if kept_by_plan("data.patch_size", config.plan.keep):  # measured at the kept size
        patch = max(config.data.patch_size)
    pretrain = config.pretrain
    timer = functools.partial(
        measure_step_seconds,
        config.model.segmenter,
        kwargs,
        pretrain.loss,
        patch,
        pretrain.batch_size,
        device,
    )
    return patch, functools.cache(timer)


def _unkept(planned: dict[str, Any], keep: list[str]) -> dict[str, Any]:
    """The planned segmenter options that ``plan.keep`` does not hold back."""
    return {
        name: value
        for name, value in planned.items()
        if not kept_by_plan(f"model.segmenter_kwargs.{name}", keep)
    }


def _init_architecture_kept(
    plan: Plan, overrides: dict[str, Any], config: TrainConfig
) -> dict[str, Any]:
    """``overrides`` less the segmenter's options, which ``model.init`` decides; ``plan`` records
    that network's depth instead of the planned one."""
    depth = config.model.segmenter_kwargs.get("depth", plan.depth)
    plan.reasons.append(
        f"the network of model.init {config.model.init} is trained as it is: depth {depth} "
        f"(planned for these particles: {plan.depth})"
    )
    _record_depth(plan, depth)
    return {k: v for k, v in overrides.items() if not k.startswith("model.segmenter_kwargs.")}


def _record_kept_shape(plan: Plan, config: TrainConfig, kept: list[str]) -> None:
    """``plan`` records the depth and patch side that ``plan.keep`` held back (the run trains
    those), not the planned ones."""
    depth = config.model.segmenter_kwargs.get("depth")
    if "model.segmenter_kwargs.depth" in kept and depth is not None:
        _record_depth(plan, depth)
    if "data.patch_size" in kept:
        plan.patch_px = max(config.data.patch_size)


def _record_depth(plan: Plan, depth: int) -> None:
    plan.depth, plan.receptive_field_px = depth, receptive_field(depth)
