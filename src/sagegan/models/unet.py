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
    DoubleConv,
    PaddedSegmenter,
    UNetEncoder,
    channel_widths,
    init_weights,
    upsample_block,
)


class UNet(PaddedSegmenter):
    """U-Net segmenter; widths ``base_width * 2**k`` for levels k = 0..depth (paper: 64 -> 1024),
    capped at ``max_width`` when given."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base_width: int = 16,
        depth: int = 4,
        max_width: int | None = None,
        norm: str = "batch",
        upsampling: str = "transpose",
        pad_mode: str = "reflect",
    ) -> None:
        widths = channel_widths(base_width, depth, max_width)
        super().__init__(depth, pad_mode)
        self.encoder = UNetEncoder(in_channels, widths, norm)
        levels = list(reversed(range(depth)))
        self.up = nn.ModuleList(
            upsample_block(widths[k + 1], widths[k], upsampling) for k in levels
        )
        self.decoder = nn.ModuleList(DoubleConv(2 * widths[k], widths[k], norm) for k in levels)
        self.head = nn.Conv2d(widths[0], out_channels, 1)
        init_weights(self)

    def forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        x, skips = self.encoder(x)
        for up, block, skip in zip(self.up, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x), []
