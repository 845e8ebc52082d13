"""Losses: segmentation (BCE, focal Tversky, Dice), least-squares GAN, DiffAugment, perceptual."""

from __future__ import annotations

from sagegan.losses.adversarial import l1_image_loss, lsgan_d_loss, lsgan_g_loss
from sagegan.losses.diffaugment import diff_augment
from sagegan.losses.perceptual import PerceptualLoss, build_perceptual_loss
from sagegan.losses.segmentation import (
    BoundaryAwareLoss,
    SegmentationLoss,
    bce_loss,
    build_segmentation_loss,
    dice_loss,
    focal_bce_loss,
    focal_tversky_loss,
    tversky_index,
)

__all__ = [
    "BoundaryAwareLoss",
    "PerceptualLoss",
    "SegmentationLoss",
    "bce_loss",
    "build_perceptual_loss",
    "build_segmentation_loss",
    "dice_loss",
    "diff_augment",
    "focal_bce_loss",
    "focal_tversky_loss",
    "l1_image_loss",
    "lsgan_d_loss",
    "lsgan_g_loss",
    "tversky_index",
]
