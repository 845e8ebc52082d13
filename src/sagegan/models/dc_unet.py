"""DC-UNet (Lou, Guan & Loew 2021, SPIE Medical Imaging): U-Net with dual-channel blocks and
residual paths instead of plain skips.

Dual-channel block for a level of nominal width U (MultiResUNet's ``W = alpha * U``, alpha 1.67):
two parallel chains of three 3x3 ConvNormAct layers with about W/6, W/3 and W/2 filters; each
chain concatenates its three outputs (so a 3x3, an effective 5x5 and an effective 7x7 view), the
two chains are added, then ReLU and norm. ResPath (MultiResUNet): a chain of residual units
(3x3 ConvNormAct + 1x1 ConvNorm shortcut, added, ReLU, norm) on every skip, ``depth - level``
units long, so the shallowest skip, which bridges the largest semantic gap, gets the longest path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sagegan.models.blocks import (
    ConvNormAct,
    PaddedSegmenter,
    PoolingEncoder,
    channel_widths,
    init_weights,
    norm_layer,
    upsample_block,
)

ALPHA = 1.67


def dual_channel_widths(width: int, alpha: float = ALPHA) -> tuple[int, int, int]:
    """Filters of one chain's three convs: W/6, W/3 and W/2 rounded down, ``W = alpha * width``."""
    scaled = alpha * width
    return max(1, int(scaled / 6)), max(1, int(scaled / 3)), max(1, int(scaled / 2))


class _Chain(nn.Module):
    """Three stacked 3x3 ConvNormAct layers whose outputs are concatenated."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int], norm: str) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            ConvNormAct(c_in, c_out, norm=norm)
            for c_in, c_out in zip((in_channels, *widths[:-1]), widths, strict=True)
        )

    def forward(self, x: Tensor) -> Tensor:
        outputs = []
        for conv in self.convs:
            x = conv(x)
            outputs.append(x)
        return torch.cat(outputs, dim=1)


class DualChannelBlock(nn.Module):
    """Two parallel three-conv chains, concatenated within and added across; ReLU then norm."""

    def __init__(self, in_channels: int, width: int, norm: str = "batch") -> None:
        super().__init__()
        widths = dual_channel_widths(width)
        self.out_channels = sum(widths)
        self.left = _Chain(in_channels, widths, norm)
        self.right = _Chain(in_channels, widths, norm)
        self.norm = norm_layer(norm, self.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(F.relu(self.left(x) + self.right(x)))


class ResidualUnit(nn.Module):
    """3x3 ConvNormAct plus a 1x1 ConvNorm shortcut, added, ReLU, then norm."""

    def __init__(self, channels: int, norm: str = "batch") -> None:
        super().__init__()
        self.conv = ConvNormAct(channels, channels, norm=norm)
        self.shortcut = ConvNormAct(channels, channels, kernel_size=1, norm=norm, act="none")
        self.norm = norm_layer(norm, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(F.relu(self.conv(x) + self.shortcut(x)))


class DCUNet(PaddedSegmenter):
    """DC-UNet segmenter; nominal widths ``base_width * 2**k`` (paper: 32 -> 512 with depth 4)."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base_width: int = 16,
        depth: int = 4,
        norm: str = "batch",
        upsampling: str = "transpose",
        pad_mode: str = "reflect",
    ) -> None:
        widths = channel_widths(base_width, depth)
        super().__init__(depth, pad_mode)
        self.encoder = PoolingEncoder()
        channels = in_channels
        for width in widths:
            block = DualChannelBlock(channels, width, norm)
            self.encoder.append(block)
            channels = block.out_channels
        skip_channels = [block.out_channels for block in self.encoder]
        self.res_paths = nn.ModuleList(
            nn.Sequential(*(ResidualUnit(skip_channels[k], norm) for _ in range(depth - k)))
            for k in range(depth)
        )
        self.up = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for k in reversed(range(depth)):
            self.up.append(upsample_block(channels, widths[k], upsampling))
            block = DualChannelBlock(widths[k] + skip_channels[k], widths[k], norm)
            self.decoder.append(block)
            channels = block.out_channels
        self.head = nn.Conv2d(channels, out_channels, 1)
        init_weights(self)

    def forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        x, skips = self.encoder(x)
        skips = [res_path(skip) for res_path, skip in zip(self.res_paths, skips, strict=True)]
        for up, block, skip in zip(self.up, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x), []
