"""Half U-Net (Lu et al. 2022, Frontiers in Neuroinformatics): a U-Net encoder with one channel
count at every level and a decoder reduced to full-scale feature fusion.

Each of the ``depth + 1`` levels is two Ghost modules (the first level reads the image, the others
the max-pooled previous level). Every level's output is upsampled to full resolution and the maps
are fused by ADDITION (no concatenation, so no extra channels); two more Ghost modules and a 1x1
head follow. A Ghost module (GhostNet ratio 2) makes half its maps with a 3x3 conv and the other
half with a cheap depthwise 3x3 conv of those, and concatenates both, so widths must be even.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sagegan.errors import ConfigError
from sagegan.models.blocks import (
    ConvNormAct,
    PaddedSegmenter,
    PoolingEncoder,
    check_choice,
    init_weights,
)

FUSION_UPSAMPLING: tuple[str, ...] = ("bilinear", "nearest")


class GhostModule(nn.Module):
    """3x3 ConvNormAct to half the maps, concatenated with their depthwise 3x3 "ghosts"."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "batch") -> None:
        super().__init__()
        if out_channels % 2:
            raise ConfigError(f"Ghost modules need an even channel count, got {out_channels}")
        intrinsic = out_channels // 2
        self.primary = ConvNormAct(in_channels, intrinsic, norm=norm)
        self.cheap = ConvNormAct(intrinsic, intrinsic, norm=norm, groups=intrinsic)

    def forward(self, x: Tensor) -> Tensor:
        intrinsic = self.primary(x)
        return torch.cat([intrinsic, self.cheap(intrinsic)], dim=1)


def _ghost_pair(in_channels: int, out_channels: int, norm: str) -> nn.Sequential:
    return nn.Sequential(
        GhostModule(in_channels, out_channels, norm), GhostModule(out_channels, out_channels, norm)
    )


class HalfUNet(PaddedSegmenter):
    """Half U-Net segmenter; ``base_width`` is the unified channel count.

    The default is the paper's 64: at 256x256 it costs about 9 GFLOP, like a width-16 U-Net.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base_width: int = 64,
        depth: int = 4,
        norm: str = "batch",
        upsampling: str = "bilinear",
        pad_mode: str = "reflect",
    ) -> None:
        check_choice("upsampling", upsampling, FUSION_UPSAMPLING)
        if depth < 1:
            raise ConfigError(f"depth must be >= 1, got {depth}")
        super().__init__(depth, pad_mode)
        self.upsampling = upsampling
        self.levels = PoolingEncoder(
            _ghost_pair(in_channels if level == 0 else base_width, base_width, norm)
            for level in range(depth + 1)
        )
        self.fuse = _ghost_pair(base_width, base_width, norm)
        self.head = nn.Conv2d(base_width, out_channels, 1)
        init_weights(self)

    def forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        bottleneck, skips = self.levels(x)
        fused = skips[0]
        for level, features in enumerate([*skips[1:], bottleneck], start=1):
            fused = fused + self._to_full_resolution(features, level)
        return self.head(self.fuse(fused)), []

    def _to_full_resolution(self, x: Tensor, level: int) -> Tensor:
        if self.upsampling == "nearest":
            return F.interpolate(x, scale_factor=2**level, mode="nearest")
        return F.interpolate(x, scale_factor=2**level, mode="bilinear", align_corners=False)
