"""Attention U-Net (Oktay et al. 2018): a U-Net whose skips pass through additive attention gates.

Paper eqs. (4)-(7): ``q = psi^T ReLU(W_x^T x + W_g^T g + b_g) + b_psi``, ``alpha = sigmoid(q)``,
``x_hat = alpha * x``. Every skip connection is gated. Two gating layouts:

* ``gating="coarser"`` (default, Oktay): the gating signal g is the decoder feature of the coarser
  level; x is taken to g's grid by a 2x2 stride-2 ``W_x`` and alpha is upsampled bilinearly back
  to x's grid.
* ``gating="same_resolution"`` (the authors' code): g is the already-upsampled decoder feature at
  x's resolution; ``W_x``, ``W_g`` and ``psi`` are 1x1 convs each followed by the norm layer.

Decoder dropout (between the two convs of each decoder block) is 0.5 in the authors' code; the
default here is 0 because the CPU-sized nets are small and dropout slows few-label training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sagegan.models.blocks import (
    DoubleConv,
    PaddedSegmenter,
    UNetEncoder,
    channel_widths,
    check_choice,
    init_weights,
    norm_layer,
    resize_like,
    upsample_block,
)

GATINGS: tuple[str, ...] = ("coarser", "same_resolution")


class AttentionGate(nn.Module):
    """Additive attention gate; ``forward(x, g) -> (alpha * x, alpha)`` with alpha at x's grid."""

    def __init__(
        self,
        skip_channels: int,
        gate_channels: int,
        inter_channels: int,
        gating: str = "coarser",
        norm: str = "batch",
    ) -> None:
        super().__init__()
        check_choice("gating", gating, GATINGS)
        if gating == "coarser":
            self.theta_x = nn.Conv2d(skip_channels, inter_channels, 2, stride=2, bias=False)
            self.phi_g = nn.Conv2d(gate_channels, inter_channels, 1)
            self.psi = nn.Conv2d(inter_channels, 1, 1)
        else:
            self.theta_x = _projection(skip_channels, inter_channels, norm)
            self.phi_g = _projection(gate_channels, inter_channels, norm)
            self.psi = _projection(inter_channels, 1, norm)

    def forward(self, x: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
        theta = self.theta_x(x)
        phi = resize_like(self.phi_g(g), theta)
        alpha = torch.sigmoid(self.psi(F.relu(theta + phi)))
        alpha = resize_like(alpha, x)
        return x * alpha, alpha


def _projection(in_channels: int, out_channels: int, norm: str) -> nn.Sequential:
    """1x1 conv followed by a norm layer (bias only without norm)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, bias=norm == "none"),
        norm_layer(norm, out_channels),
    )


class AttentionUNet(PaddedSegmenter):
    """Attention U-Net segmenter returning logits and the attention map of every gated skip.

    Widths are ``base_width * 2**k`` for levels k = 0..depth (paper: 64 -> 1024 with depth 4),
    capped at ``max_width`` when given.
    Attention maps come coarsest first, each at its skip's resolution cropped to the input:
    ``attention[i]`` has size ``ceil(H / 2**(depth-1-i)) x ceil(W / 2**(depth-1-i))``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base_width: int = 16,
        depth: int = 4,
        max_width: int | None = None,
        norm: str = "batch",
        dropout: float = 0.0,
        upsampling: str = "transpose",
        gating: str = "coarser",
        pad_mode: str = "reflect",
    ) -> None:
        check_choice("gating", gating, GATINGS)
        widths = channel_widths(base_width, depth, max_width)
        super().__init__(depth, pad_mode)
        self.gating = gating
        self.encoder = UNetEncoder(in_channels, widths, norm)
        levels = list(reversed(range(depth)))
        self.up = nn.ModuleList(
            upsample_block(widths[k + 1], widths[k], upsampling) for k in levels
        )
        self.gates = nn.ModuleList(
            AttentionGate(
                skip_channels=widths[k],
                gate_channels=widths[k + 1] if gating == "coarser" else widths[k],
                inter_channels=max(1, widths[k] // 2),
                gating=gating,
                norm=norm,
            )
            for k in levels
        )
        self.decoder = nn.ModuleList(
            DoubleConv(2 * widths[k], widths[k], norm, dropout=dropout) for k in levels
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)
        init_weights(self)

    def forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        x, skips = self.encoder(x)
        attention = []
        for up, gate, block, skip in zip(
            self.up, self.gates, self.decoder, reversed(skips), strict=True
        ):
            if self.gating == "coarser":
                gated, alpha = gate(skip, x)
                x = up(x)
            else:
                x = up(x)
                gated, alpha = gate(skip, x)
            x = block(torch.cat([x, gated], dim=1))
            attention.append(alpha)
        return self.head(x), attention


def upsample_attention(attention: Sequence[Tensor], size: tuple[int, int]) -> Tensor:
    """Stack attention maps upsampled (bilinear) to the input ``size``: B x K x H x W heat maps.

    Each map's scale is the power of two s with ``ceil(H / s), ceil(W / s)`` equal to its size (the
    cropping rule of :class:`AttentionUNet`), so the upsampled map lines up with the input pixels.
    """
    if not attention:
        raise ValueError("no attention maps to upsample (the network has no attention gates)")
    height, width = size
    maps = []
    for alpha in attention:
        scale = _level_scale((alpha.shape[-2], alpha.shape[-1]), size)
        if scale > 1:
            alpha = F.interpolate(alpha, scale_factor=scale, mode="bilinear", align_corners=False)
        maps.append(alpha[..., :height, :width])
    return torch.cat(maps, dim=1)


def _level_scale(map_size: tuple[int, int], size: tuple[int, int]) -> int:
    """The power-of-two downsampling factor that turns ``size`` into ``map_size``."""
    scale = 1
    while scale <= 2 * max(size):
        if all(math.ceil(n / scale) == m for n, m in zip(size, map_size, strict=True)):
            return scale
        scale *= 2
    raise ValueError(f"attention map of size {map_size} is not a power-of-two level of {size}")
