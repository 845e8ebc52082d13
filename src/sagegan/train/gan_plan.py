"""Stage 2's per-iteration plan: whether S also trains on generated pairs (online augmentation,
paper eqs. 12-13) and which mask source each of those pairs uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sagegan.train.config import GanConfig
from sagegan.train.mask_sources import MaskSources


@dataclass
class StepPlan:
    """Decisions of one iteration, equal on every rank so that all ranks run the same passes."""

    warmup: bool
    augment: bool
    sources: list[str]


def ramp_start(config: GanConfig, gate_opened: int | None) -> int | None:
    """The first epoch of the online-augmentation ramp: after the generator warm-up, and with a
    realism gate not before the epoch it opened (None: the gate has not opened yet)."""
    if config.realism_gate_kid is None:
        return config.generator_warmup_epochs
    if gate_opened is None:
        return None
    return max(config.generator_warmup_epochs, gate_opened)


def mix_probability(config: GanConfig, epoch: int, gate_opened: int | None = None) -> float:
    """Probability that an iteration of ``epoch`` trains S on generated pairs.

    0 before the ramp starts (`ramp_start`: the generator warm-up, and the realism gate when one
    is set), then a linear ramp reaching ``mix_max`` after ``mix_ramp_epochs`` epochs (the
    reference: min(0.005 * (epoch + 1), 0.6)).
    """
    start = ramp_start(config, gate_opened)
    if start is None or epoch < start:
        return 0.0
    if config.mix_ramp_epochs <= 0:
        return config.mix_max
    return config.mix_max * min(1.0, (epoch - start + 1) / config.mix_ramp_epochs)


def plan_step(
    config: GanConfig,
    epoch: int,
    batch_size: int,
    sources: MaskSources,
    rng: np.random.Generator,
    gate_opened: int | None = None,
) -> StepPlan:
    """Draw whether this iteration augments and which mask source each sample uses."""
    warmup = epoch < config.generator_warmup_epochs
    probability = mix_probability(config, epoch, gate_opened)
    augment = (not warmup) and bool(rng.random() < probability)
    return StepPlan(warmup, augment, sources.choose(rng, batch_size) if augment else [])
