"""Differentiable augmentation for data-efficient GAN training (DiffAugment, Zhao et al. 2020).

The same random transformations are applied to real and generated images before the discriminator
sees them; every operation is differentiable with respect to the image so the generator still gets
gradients. Written for grayscale images in [-1, 1] (any channel count works; all channels of a
sample are transformed alike, so the paper's saturation change, a no-op on one channel, is omitted):

- ``color``: brightness ``x + U(-0.5, 0.5)``, then contrast ``(x - mean) * U(0.5, 1.5) + mean``
  about the sample's mean;
- ``translation``: an integer shift of up to 1/8 of the height and width, the uncovered border
  filled with zeros;
- ``cutout``: a zeroed rectangle of half the height and width at a random centre (clipped at
  borders).

Unlike the reference (one draw for the whole batch), each sample and each operation draws its own
parameters and is transformed with probability ``p`` independently; ``p=1`` is the original
DiffAugment, ``p=0`` returns the input unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sagegan.errors import ConfigError

OPERATIONS = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def diff_augment(
    x: Tensor,
    policy: str = "color,translation,cutout",
    p: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Augment a B x C x H x W batch with the comma-separated operations of ``policy``, in order."""
    if x.dim() != 4:
        raise ValueError(f"diff_augment expects B x C x H x W, got {tuple(x.shape)}")
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"DiffAugment probability must be in [0, 1], got {p}")
    operations = [name.strip() for name in policy.split(",") if name.strip()]
    unknown = [name for name in operations if name not in OPERATIONS]
    if unknown:
        raise ConfigError(
            f"unknown DiffAugment operation(s) {', '.join(unknown)}; "
            f"choose from {', '.join(OPERATIONS)}"
        )
    draw = _Draw(x, generator)
    for name in operations:
        apply = draw.uniform(0.0, 1.0) < p
        if name == "color":
            x = _color(x, apply, draw)
        elif name == "translation":
            x = _translation(x, apply, draw)
        else:
            x = _cutout(x, apply, draw)
    return x


class _Draw:
    """Per-sample random numbers from ``generator`` (on its device), moved to the batch's device."""

    def __init__(self, x: Tensor, generator: torch.Generator | None) -> None:
        self.batch = x.shape[0]
        self.device = x.device
        self.generator = generator
        self.draw_device = generator.device if generator is not None else x.device

    def uniform(self, low: float, high: float) -> Tensor:
        values = torch.rand(self.batch, generator=self.generator, device=self.draw_device)
        return (low + (high - low) * values).to(self.device)

    def integers(self, low: int, high: int) -> Tensor:
        """Integers in [low, high) per sample."""
        values = torch.randint(
            low, high, (self.batch,), generator=self.generator, device=self.draw_device
        )
        return values.to(self.device)


def _per_sample(values: Tensor, like: Tensor) -> Tensor:
    return values.to(like.dtype).view(-1, 1, 1, 1)


def _color(x: Tensor, apply: Tensor, draw: _Draw) -> Tensor:
    brightness = _per_sample(draw.uniform(-0.5, 0.5), x)
    contrast = _per_sample(draw.uniform(0.5, 1.5), x)
    brightened = x + brightness
    mean = brightened.mean(dim=(1, 2, 3), keepdim=True)
    augmented = (brightened - mean) * contrast + mean
    return torch.where(apply.view(-1, 1, 1, 1), augmented, x)


def _translation(x: Tensor, apply: Tensor, draw: _Draw) -> Tensor:
    _, _, height, width = x.shape
    max_dy = int(height * TRANSLATION_RATIO + 0.5)
    max_dx = int(width * TRANSLATION_RATIO + 0.5)
    dy = draw.integers(-max_dy, max_dy + 1) * apply
    dx = draw.integers(-max_dx, max_dx + 1) * apply
    padded = torch.nn.functional.pad(x, [max_dx, max_dx, max_dy, max_dy])
    # Output pixel (i, j) reads input pixel (i - dy, j - dx), i.e. padded (i - dy + max_dy, ...).
    rows = torch.arange(height, device=x.device).view(1, -1) - dy.view(-1, 1) + max_dy
    cols = torch.arange(width, device=x.device).view(1, -1) - dx.view(-1, 1) + max_dx
    batch = torch.arange(x.shape[0], device=x.device).view(-1, 1, 1)
    shifted = padded[batch, :, rows.unsqueeze(2), cols.unsqueeze(1)]  # B x H x W x C
    return shifted.permute(0, 3, 1, 2)


def _cutout(x: Tensor, apply: Tensor, draw: _Draw) -> Tensor:
    _, _, height, width = x.shape
    cut_h = int(height * CUTOUT_RATIO + 0.5)
    cut_w = int(width * CUTOUT_RATIO + 0.5)
    top = draw.integers(0, height + 1).view(-1, 1) - cut_h // 2
    left = draw.integers(0, width + 1).view(-1, 1) - cut_w // 2
    rows = torch.arange(height, device=x.device).view(1, -1)
    cols = torch.arange(width, device=x.device).view(1, -1)
    inside_rows = (rows >= top) & (rows < top + cut_h)  # B x H
    inside_cols = (cols >= left) & (cols < left + cut_w)  # B x W
    inside = inside_rows.unsqueeze(2) & inside_cols.unsqueeze(1) & apply.view(-1, 1, 1)
    return x.masked_fill(inside.unsqueeze(1), 0.0)
