"""U-Net (Ronneberger et al. 2015): double 3x3 convs, max-pooling, transposed-conv upsampling and
concatenated skips.

Deviation from the paper: convs use "same" padding (the paper's are unpadded "valid" convs that
shrink every map and need cropped skips and overlap-tile inference). With same padding the output
has the input's size, which is what the training and measurement code expects. A norm layer after
each conv (batch norm by default) is also an addition; ``norm="none"`` gives the original blocks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sagegan.models.blocks import (
    PAD_MODES,
    DoubleConv,
    channel_widths,
    check_choice,
    crop_padding,
    init_weights,
    max_pool,
    pad_to_multiple,
    upsample_block,
)
from sagegan.models.output import SegmentationOutput


class UNet(nn.Module):
    """U-Net segmenter; widths ``base_width * 2**k`` for levels k = 0..depth (paper: 64 -> 1024)."""

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
        super().__init__()
        widths = channel_widths(base_width, depth)
        self.depth = depth
        check_choice("pad_mode", pad_mode, PAD_MODES)
        self.pad_mode = pad_mode
        self.encoder = nn.ModuleList(
            DoubleConv(in_channels if level == 0 else widths[level - 1], widths[level], norm)
            for level in range(depth + 1)
        )
        levels = list(reversed(range(depth)))
        self.up = nn.ModuleList(
            upsample_block(widths[k + 1], widths[k], upsampling) for k in levels
        )
        self.decoder = nn.ModuleList(DoubleConv(2 * widths[k], widths[k], norm) for k in levels)
        self.head = nn.Conv2d(widths[0], out_channels, 1)
        init_weights(self)

    def forward(self, x: Tensor) -> SegmentationOutput:
        x, pad = pad_to_multiple(x, 2**self.depth, self.pad_mode)
        skips = []
        for block in self.encoder[:-1]:
            x = block(x)
            skips.append(x)
            x = max_pool(x)
        x = self.encoder[-1](x)
        for up, block, skip in zip(self.up, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([up(x), skip], dim=1))
        return SegmentationOutput(crop_padding(self.head(x), pad), [])
