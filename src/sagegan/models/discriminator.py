"""PatchGAN discriminator (Isola et al. 2017, pix2pix): a fully convolutional critic scoring every
overlapping patch of its input.

With ``n_layers=3`` it is C64-C128-C256-C512 (4x4 convs, strides 2-2-2-1, LeakyReLU 0.2, no norm on
the first layer) plus a 4x4 stride-1 conv to one channel: each output cell sees a 70x70 input patch.
The output map's size follows the input's (:meth:`PatchDiscriminator.output_size`); nothing is
hard-coded. Unlike the authors' discriminator there is no global linear-attention block, so every
score stays strictly local. Works for images and masks alike (``in_channels``). With
``spectral_norm=True`` every conv is spectrally normalised and no norm layers are used.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

from sagegan.errors import ConfigError
from sagegan.models.blocks import LEAKY_SLOPE, NORM_KINDS, check_choice, init_weights, norm_layer

KERNEL = 4
PADDING = 1
MAX_WIDTH_MULTIPLIER = 8


class ConvSpec(NamedTuple):
    """Geometry of one conv layer."""

    kernel: int
    stride: int
    padding: int


def patch_conv_specs(n_layers: int = 3) -> list[ConvSpec]:
    """Conv geometry of a PatchGAN: ``n_layers`` stride-2 convs, then two stride-1 convs."""
    if n_layers < 1:
        raise ConfigError(f"n_layers must be >= 1, got {n_layers}")
    strides = [2] * n_layers + [1, 1]
    return [ConvSpec(KERNEL, stride, PADDING) for stride in strides]


def receptive_field(specs: list[ConvSpec]) -> int:
    """Side of the input patch one output cell depends on: ``r <- (r - 1) * stride + kernel``
    applied from the last layer back to the first."""
    field = 1
    for spec in reversed(specs):
        field = (field - 1) * spec.stride + spec.kernel
    return field


def conv_output_size(size: int, specs: list[ConvSpec]) -> int:
    """Output length along one axis: ``(n + 2 * padding - kernel) // stride + 1`` per layer."""
    for spec in specs:
        size = (size + 2 * spec.padding - spec.kernel) // spec.stride + 1
    return size


class PatchDiscriminator(nn.Module):
    """PatchGAN returning B x 1 x h x w real/fake logits (no sigmoid)."""

    def __init__(
        self,
        in_channels: int = 1,
        base_width: int = 32,
        n_layers: int = 3,
        norm: str = "batch",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        check_choice("norm", norm, NORM_KINDS)
        self.specs = patch_conv_specs(n_layers)
        if spectral_norm:
            norm = "none"
        widths = [base_width * min(2**i, MAX_WIDTH_MULTIPLIER) for i in range(len(self.specs) - 1)]
        channels = [in_channels, *widths, 1]
        layers: list[nn.Module] = []
        for index, spec in enumerate(self.specs):
            is_first, is_last = index == 0, index == len(self.specs) - 1
            normed = not (is_first or is_last) and norm != "none"
            conv = nn.Conv2d(
                channels[index],
                channels[index + 1],
                spec.kernel,
                stride=spec.stride,
                padding=spec.padding,
                bias=not normed,
            )
            init_weights(conv, nonlinearity="leaky_relu")
            layers.append(apply_spectral_norm(conv) if spectral_norm else conv)
            if normed:
                layers.append(norm_layer(norm, channels[index + 1]))
            if not is_last:
                layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        self.layers = nn.Sequential(*layers)

    @property
    def receptive_field(self) -> int:
        """Side in pixels of the input patch each output cell scores (70 for n_layers=3)."""
        return receptive_field(self.specs)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Size of the score map for an input of ``height`` x ``width``."""
        return conv_output_size(height, self.specs), conv_output_size(width, self.specs)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
