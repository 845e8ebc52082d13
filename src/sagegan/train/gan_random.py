"""The random sources of stage 2, one set per epoch and rank, and G's random inputs.

Derived from (seed, stage, epoch) and the rank with ``derive_seed``: the iteration plans come from
a generator equal on every rank (all ranks take the same passes); the new masks of online
augmentation, G's latents and noise and DiffAugment from this rank's own generators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from sagegan.train.runtime import STAGE_KEYS, derive_seed


@dataclass
class GanRandomSources:
    """The generators one epoch of stage 2 draws from on one rank."""

    plans: np.random.Generator  # equal on every rank: each iteration's StepPlan
    masks: np.random.Generator  # this rank's: new masks for online augmentation
    tensors: torch.Generator  # this rank's (on CPU): G's latents and noise, DiffAugment

    @classmethod
    def for_epoch(cls, seed: int, epoch: int, rank: int) -> GanRandomSources:
        key = STAGE_KEYS["gan"]
        return cls(
            plans=np.random.default_rng(derive_seed(seed, key, epoch)),
            masks=np.random.default_rng(derive_seed(seed, key, epoch, rank + 1)),
            tensors=torch.Generator().manual_seed(derive_seed(seed, key, epoch, rank + 1, 1)),
        )


def generator_inputs(
    generator: nn.Module, masks: Tensor, source: torch.Generator
) -> tuple[Tensor, list[Tensor]]:
    """Latents z and noise maps for the (unwrapped) generator G on ``masks``, drawn on the CPU
    from ``source`` (z first) and moved to the masks' device."""
    batch, size = masks.shape[0], (masks.shape[-2], masks.shape[-1])
    z = generator.sample_z(batch, "cpu", generator=source).to(masks.device)
    noise = generator.make_noise(batch, size, "cpu", generator=source)
    return z, [n.to(masks.device) for n in noise]
