"""U-Net++ (Zhou et al. 2018, DLMIA): U-Net with nested, densely connected skip pathways.

Node ``X[i][j]`` sits at level i (resolution ``1 / 2**i``) and column j. Column 0 is the encoder
(``X[i][0] = H(pool(X[i-1][0]))``); every other node fuses all earlier nodes of its level with the
upsampled node below-left: ``X[i][j] = H([X[i][0], ..., X[i][j-1], Up(X[i+1][j-1])])``, with H a
double 3x3 conv block of width ``base_width * 2**i``.

Deep supervision (``deep_supervision=True``) puts a 1x1 head on every top node ``X[0][1..depth]``.
``forward`` then returns the mean of the heads' logits (in training and in evaluation: Zhou's
"accurate" mode, averaging logits rather than probabilities); ``forward_heads`` returns every
head's logits so a training loop can apply the loss to each head and average the losses.
Without deep supervision the single head reads ``X[0][depth]``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sagegan.models.blocks import (
    DoubleConv,
    PaddedSegmenter,
    UNetEncoder,
    channel_widths,
    crop_padding,
    init_weights,
    upsample_block,
)


class UNetPlusPlus(PaddedSegmenter):
    """U-Net++ segmenter; widths ``base_width * 2**i`` for levels i = 0..depth."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base_width: int = 16,
        depth: int = 4,
        norm: str = "batch",
        deep_supervision: bool = False,
        upsampling: str = "transpose",
        pad_mode: str = "reflect",
    ) -> None:
        widths = channel_widths(base_width, depth)
        super().__init__(depth, pad_mode)
        self.deep_supervision = deep_supervision
        self.encoder = UNetEncoder(in_channels, widths, norm)
        # up[i][j - 1] and nodes[i][j - 1] build X[i][j] for j = 1..depth-i.
        self.up = nn.ModuleList(
            nn.ModuleList(
                upsample_block(widths[i + 1], widths[i], upsampling) for _ in range(depth - i)
            )
            for i in range(depth)
        )
        self.nodes = nn.ModuleList(
            nn.ModuleList(
                DoubleConv((j + 1) * widths[i], widths[i], norm) for j in range(1, depth - i + 1)
            )
            for i in range(depth)
        )
        num_heads = depth if deep_supervision else 1
        self.heads = nn.ModuleList(nn.Conv2d(widths[0], out_channels, 1) for _ in range(num_heads))
        init_weights(self)

    def forward_heads(self, x: Tensor) -> list[Tensor]:
        """Logits of every head at the input size (one tensor without deep supervision)."""
        x, pad = self.pad(x)
        return [crop_padding(logits, pad) for logits in self._padded_heads(x)]

    def forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        heads = self._padded_heads(x)
        logits = heads[0] if len(heads) == 1 else torch.stack(heads).mean(dim=0)
        return logits, []

    def _padded_heads(self, x: Tensor) -> list[Tensor]:
        """Logits of every head for an input padded to a multiple of ``2**depth``."""
        bottleneck, skips = self.encoder(x)
        grid = [[node] for node in [*skips, bottleneck]]
        for j in range(1, self.depth + 1):
            for i in range(self.depth - j + 1):
                upsampled = self.up[i][j - 1](grid[i + 1][j - 1])
                grid[i].append(self.nodes[i][j - 1](torch.cat([*grid[i], upsampled], dim=1)))
        top = grid[0][1:] if self.deep_supervision else grid[0][-1:]
        return [head(node) for head, node in zip(self.heads, top, strict=True)]
