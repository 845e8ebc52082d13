"""Exponential moving averages of a network's weights: stage 1's segmenter (``pretrain.ema``) and
the GAN stage's generator (``gan.generator_ema``)."""

from __future__ import annotations

import torch
from torch import nn


def warmed_decay(decay: float, steps: int) -> float:
    """The decay after ``steps`` averaged steps: ``min(decay, (1 + t) / (10 + t))``, so that the
    average forgets the starting weights within tens of steps instead of thousands."""
    return min(decay, (1 + steps) / (10 + steps))


@torch.no_grad()
def move_average(average: nn.Module, live: nn.Module, decay: float) -> None:
    """Move ``average``'s parameters towards ``live``'s (``average = decay * average + (1 -
    decay) * live``); buffers (BatchNorm statistics) are copied."""
    for mean, current in zip(average.parameters(), live.parameters(), strict=True):
        mean.lerp_(current.detach(), 1.0 - decay)
    for mean, current in zip(average.buffers(), live.buffers(), strict=True):
        mean.copy_(current)
