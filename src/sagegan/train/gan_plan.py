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


def mix_probability(config: GanConfig, epoch: int) -> float:
    """Probability that an iteration of ``epoch`` trains S on generated pairs.

    0 during the generator warm-up, then a linear ramp reaching ``mix_max`` after
    ``mix_ramp_epochs`` epochs (the reference: min(0.005 * (epoch + 1), 0.6)).
    """
    ramp_epoch = epoch - config.generator_warmup_epochs
    if ramp_epoch < 0:
        return 0.0
    if config.mix_ramp_epochs <= 0:
        return config.mix_max
    return config.mix_max * min(1.0, (ramp_epoch + 1) / config.mix_ramp_epochs)


def plan_step(
    config: GanConfig, epoch: int, batch_size: int, sources: MaskSources, rng: np.random.Generator
) -> StepPlan:
    """Draw whether this iteration augments and which mask source each sample uses."""
    warmup = epoch < config.generator_warmup_epochs
    augment = (not warmup) and bool(rng.random() < mix_probability(config, epoch))
    return StepPlan(warmup, augment, sources.choose(rng, batch_size) if augment else [])
