"""Building blocks shared by the networks: normalisation, conv units, encoders, padding, init.

Padding policy: every encoder-decoder pads its input on the bottom and right to a multiple of
``2**depth`` before the first layer and crops the output back, so any input size works (e.g.
97x131). Reflection is the default because it continues the micrograph's texture instead of adding
an artificial dark frame; where an image is too small to reflect (padding >= its size) the edge
pixels are replicated instead. Padding only the bottom/right keeps every pyramid level aligned
with the input's top-left corner, so a level-``k`` map cropped to ``ceil(H / 2**k)`` rows covers
the image.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch.nn.functional as F
from torch import Tensor, nn

from sagegan.errors import ConfigError
from sagegan.models.output import SegmentationOutput

NORM_KINDS: tuple[str, ...] = ("batch", "instance", "group", "none")
PAD_MODES: tuple[str, ...] = ("reflect", "zeros", "replicate")
UPSAMPLE_KINDS: tuple[str, ...] = ("transpose", "bilinear")
ACTIVATIONS: tuple[str, ...] = ("relu", "leaky_relu", "none")

MAX_GROUPS = 8
LEAKY_SLOPE = 0.2


def check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise a one-line ConfigError when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{option}={value!r} is not valid; choose one of {', '.join(choices)}")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Normalisation over ``channels`` feature maps.

    "group" uses ``gcd(channels, 8)`` groups (stable at the small widths a CPU can train);
    "instance" is affine with no running statistics; "none" is the identity.
    """
    check_choice("norm", kind, NORM_KINDS)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "group":
        return nn.GroupNorm(math.gcd(channels, MAX_GROUPS), channels)
    return nn.Identity()


def activation(kind: str) -> nn.Module:
    """ReLU, LeakyReLU(0.2) or identity."""
    check_choice("activation", kind, ACTIVATIONS)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "leaky_relu":
        return nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
    return nn.Identity()


class ConvNormAct(nn.Sequential):
    """Conv2d -> norm -> activation; the conv has a bias only when there is no norm after it."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        norm: str = "batch",
        act: str = "relu",
        groups: int = 1,
    ) -> None:
        conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=groups,
            bias=norm == "none",
        )
        super().__init__(conv, norm_layer(norm, out_channels), activation(act))


class DoubleConv(nn.Sequential):
    """Two 3x3 ConvNormAct units ("same" padding), with optional dropout between them."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        layers: list[nn.Module] = [ConvNormAct(in_channels, out_channels, norm=norm, act=act)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(ConvNormAct(out_channels, out_channels, norm=norm, act=act))
        super().__init__(*layers)


def upsample_block(in_channels: int, out_channels: int, kind: str = "transpose") -> nn.Module:
    """x2 upsampling: a 2x2 stride-2 transposed conv, or bilinear resize then a 1x1 conv."""
    check_choice("upsampling", kind, UPSAMPLE_KINDS)
    if kind == "transpose":
        return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(in_channels, out_channels, kernel_size=1),
    )


def pad_to_multiple(
    x: Tensor, multiple: int, mode: str = "reflect"
) -> tuple[Tensor, tuple[int, int]]:
    """Pad the bottom and right of ``x`` (B x C x H x W) so H and W are multiples of ``multiple``.

    Returns the padded tensor and ``(pad_bottom, pad_right)``. ``mode`` is "reflect" (falls back
    to "replicate" when the padding is not smaller than the image), "zeros" or "replicate".
    """
    check_choice("pad_mode", mode, PAD_MODES)
    height, width = x.shape[-2:]
    pad_bottom = -height % multiple
    pad_right = -width % multiple
    if pad_bottom == 0 and pad_right == 0:
        return x, (0, 0)
    if mode == "zeros":
        return F.pad(x, (0, pad_right, 0, pad_bottom)), (pad_bottom, pad_right)
    if mode == "reflect" and (pad_bottom >= height or pad_right >= width):
        mode = "replicate"
    return F.pad(x, (0, pad_right, 0, pad_bottom), mode=mode), (pad_bottom, pad_right)


def crop_padding(x: Tensor, pad: tuple[int, int]) -> Tensor:
    """Undo :func:`pad_to_multiple`: drop ``pad = (pad_bottom, pad_right)`` rows and columns."""
    pad_bottom, pad_right = pad
    height, width = x.shape[-2:]
    return x[..., : height - pad_bottom, : width - pad_right]


def crop_to_level(x: Tensor, size: tuple[int, int], scale: int) -> Tensor:
    """Crop a map at ``1/scale`` resolution to the cells covering an input of ``size`` (H, W)."""
    return x[..., : math.ceil(size[0] / scale), : math.ceil(size[1] / scale)]


def init_weights(module: nn.Module, nonlinearity: str = "relu") -> None:
    """Kaiming-normal (fan_in) convs with zero bias; norm layers start as the identity.

    Only touches ``nn.Conv2d``/``nn.ConvTranspose2d`` and norm layers, so custom layers that own
    their initialisation (modulated convs, style affines, noise scales) keep it.
    """
    slope = LEAKY_SLOPE if nonlinearity == "leaky_relu" else 0.0
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(layer.weight, a=slope, nonlinearity=nonlinearity)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) and layer.affine:
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


def channel_widths(base_width: int, depth: int, max_width: int | None = None) -> list[int]:
    """Widths ``base_width * 2**k`` of the levels k = 0..depth of a U-shaped network, capped at
    ``max_width`` (as nnU-Net caps its deep levels: depth then buys receptive field without the
    cost of 2**depth-wide layers)."""
    if base_width < 1 or depth < 1:
        raise ConfigError(f"base_width and depth must be >= 1, got {base_width} and {depth}")
    if max_width is not None and max_width < base_width:
        raise ConfigError(f"max_width must be >= base_width ({base_width}), got {max_width}")
    widths = [base_width * 2**level for level in range(depth + 1)]
    return widths if max_width is None else [min(width, max_width) for width in widths]


def max_pool(x: Tensor) -> Tensor:
    """2x2 max-pooling with stride 2."""
    return F.max_pool2d(x, kernel_size=2, stride=2)


def resize_like(x: Tensor, reference: Tensor) -> Tensor:
    """Bilinearly resize ``x`` to ``reference``'s spatial size (no-op when they already match)."""
    if x.shape[-2:] == reference.shape[-2:]:
        return x
    return F.interpolate(x, size=reference.shape[-2:], mode="bilinear", align_corners=False)


class PoolingEncoder(nn.ModuleList):
    """Contracting path: run each level's block, max-pooling between levels.

    ``forward(x) -> (bottleneck, skips)``: ``skips`` are the outputs of every level but the last
    (finest first), ``bottleneck`` is the last level's output.
    """

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        *levels, bottleneck = self
        skips = []
        for block in levels:
            x = block(x)
            skips.append(x)
            x = max_pool(x)
        return bottleneck(x), skips


class UNetEncoder(PoolingEncoder):
    """U-Net contracting path: one :class:`DoubleConv` per level with the given ``widths``."""

    def __init__(
        self, in_channels: int, widths: list[int], norm: str = "batch", act: str = "relu"
    ) -> None:
        super().__init__(
            DoubleConv(c_in, c_out, norm, act)
            for c_in, c_out in zip([in_channels, *widths[:-1]], widths, strict=True)
        )


class PaddedNetwork(nn.Module):
    """Base of the encoder-decoders: validates and stores ``depth``-level padding settings."""

    def __init__(self, depth: int, pad_mode: str) -> None:
        super().__init__()
        check_choice("pad_mode", pad_mode, PAD_MODES)
        self.depth = depth
        self.pad_mode = pad_mode

    def pad(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """:func:`pad_to_multiple` of ``x`` to a multiple of ``2**depth``."""
        return pad_to_multiple(x, 2**self.depth, self.pad_mode)


class PaddedSegmenter(PaddedNetwork, ABC):
    """Segmenter base: ``forward`` pads, runs :meth:`forward_padded` and crops the results back.

    Attention maps from :meth:`forward_padded` are cropped with :func:`crop_to_level` at the
    scale the padded input's height is divided by to give the map's height.
    """

    def forward(self, x: Tensor) -> SegmentationOutput:
        size = (x.shape[-2], x.shape[-1])
        padded, pad = self.pad(x)
        logits, attention = self.forward_padded(padded)
        height = padded.shape[-2]
        return SegmentationOutput(
            crop_padding(logits, pad),
            [crop_to_level(alpha, size, height // alpha.shape[-2]) for alpha in attention],
        )

    @abstractmethod
    def forward_padded(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Logits and attention maps for an input already padded to a multiple of ``2**depth``."""
