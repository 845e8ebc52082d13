"""Least-squares GAN losses (Mao et al. 2017) and the pixel-wise L1 image loss.

Targets are built with ``ones_like`` / ``zeros_like``, so any discriminator output shape works (a
PatchGAN map, a scalar per image, ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def lsgan_d_loss(real_pred: Tensor, fake_pred: Tensor) -> Tensor:
    """Discriminator loss ``0.5 * (MSE(real_pred, 1) + MSE(fake_pred, 0))``."""
    real = F.mse_loss(real_pred, torch.ones_like(real_pred))
    fake = F.mse_loss(fake_pred, torch.zeros_like(fake_pred))
    return 0.5 * (real + fake)


def lsgan_g_loss(fake_pred: Tensor) -> Tensor:
    """Generator loss ``MSE(fake_pred, 1)``: the generator wants its samples judged real."""
    return F.mse_loss(fake_pred, torch.ones_like(fake_pred))


def l1_image_loss(pred: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean absolute difference, over valid pixels only when ``valid`` (B x 1 x H x W) is given."""
    if pred.shape != target.shape:
        raise ValueError(f"pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    difference = (pred - target).abs()
    if valid is None:
        return difference.mean()
    valid = valid.to(difference.dtype).expand_as(difference)
    return (difference * valid).sum() / valid.sum().clamp_min(1.0)
