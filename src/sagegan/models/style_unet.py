"""Style U-Net generator (mask -> image): the SAGE-GAN / cGAN-Seg generator (paper 2.3, audit 1.3).

A U-Net encoder reads the binary mask (``{0, 1}`` is mapped to ``{-1, 1}`` inside ``forward``);
a mapping network turns a latent z into a style w; every conv of the decoder is modulated by w
and receives injected noise; a 1x1 head and tanh give an image in [-1, 1].

* ``modulation="adain"`` (default, the paper's wording): 3x3 conv -> noise -> LeakyReLU(0.2) ->
  AdaIN, i.e. instance norm followed by a per-channel ``(1 + gamma(w)) * x + beta(w)`` with gamma
  and beta from a learned linear map of w.
* ``modulation="modconv"`` (the authors' code): StyleGAN2 modulated and demodulated 3x3 conv with
  per-input-channel scales ``1 + s(w)`` -> noise -> bias -> LeakyReLU(0.2).
* ``noise="per_pixel"`` (default): each styled conv adds B x 1 x h x w N(0, 1) noise times a
  learned per-channel weight, initialised to ``noise_init`` (nonzero, so noise shapes the texture
  from the first step).
* ``noise="faithful"`` reproduces the authors' defect: one U(0, 1) map per sample is averaged to a
  scalar and passed through ``Linear(1 -> C)`` in every styled conv, so the "noise" is in effect a
  learned constant bias and swapping it barely changes the image.

There are ``2 * depth`` styled convs (two per decoder block, coarsest first); ``w`` may be one
style per sample (B x D, used by every conv) or one per conv (B x L x D, for style mixing).
Given z (or w) and the noise the output is deterministic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sagegan.models.blocks import (
    LEAKY_SLOPE,
    PaddedNetwork,
    UNetEncoder,
    channel_widths,
    check_choice,
    crop_padding,
    init_weights,
    upsample_block,
)

MODULATIONS: tuple[str, ...] = ("adain", "modconv")
NOISE_MODES: tuple[str, ...] = ("per_pixel", "faithful")


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate (StyleGAN): N(0, 1) / lr_mul weights stored and
    scaled by ``lr_mul / sqrt(in_features)`` at run time, so ``lr_mul`` slows its learning."""

    def __init__(self, in_features: int, out_features: int, lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight_scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.weight_scale, self.bias * self.lr_mul)


class MappingNetwork(nn.Module):
    """z -> w: normalise z to unit RMS (pixel norm), then ``num_layers`` EqualLinear+LeakyReLU."""

    def __init__(self, latent_dim: int, num_layers: int, lr_mul: float = 0.1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(num_layers):
            layers += [EqualLinear(latent_dim, latent_dim, lr_mul), nn.LeakyReLU(LEAKY_SLOPE)]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.layers(z)


class NoiseInjection(nn.Module):
    """Adds per-pixel noise times a learned per-channel weight, or the faithful constant."""

    def __init__(self, channels: int, mode: str = "per_pixel", init: float = 0.1) -> None:
        super().__init__()
        check_choice("noise", mode, NOISE_MODES)
        self.mode = mode
        if mode == "per_pixel":
            self.weight = nn.Parameter(torch.full((1, channels, 1, 1), init))
        else:
            self.project = nn.Linear(1, channels)

    def forward(self, x: Tensor, noise: Tensor) -> Tensor:
        if self.mode == "per_pixel":
            if noise.shape[-2:] != x.shape[-2:]:
                raise ValueError(
                    f"noise map is {tuple(noise.shape[-2:])}, the layer is {tuple(x.shape[-2:])}"
                )
            return x + self.weight * noise
        per_sample_mean = noise.flatten(1).mean(dim=1, keepdim=True)
        return x + self.project(per_sample_mean)[:, :, None, None]


class AdaIN(nn.Module):
    """Instance norm, then ``(1 + gamma(w)) * x + beta(w)`` per channel."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        gamma, beta = self.affine(w)[:, :, None, None].chunk(2, dim=1)
        return F.instance_norm(x) * (1 + gamma) + beta


class ModulatedConv2d(nn.Module):
    """StyleGAN2 conv: weights scaled per sample and input channel by ``1 + s(w)``, then
    demodulated to unit norm per output channel; computed as one grouped conv."""

    def __init__(self, in_channels: int, out_channels: int, style_dim: int, kernel_size: int = 3):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_normal_(self.weight, a=LEAKY_SLOPE, nonlinearity="leaky_relu")
        self.affine = nn.Linear(style_dim, in_channels)
        self.padding = kernel_size // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        batch, in_channels, height, width = x.shape
        scale = 1 + self.affine(w)
        weight = self.weight[None] * scale[:, None, :, None, None]
        weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        out = F.conv2d(
            x.reshape(1, batch * in_channels, height, width),
            weight.reshape(-1, in_channels, *self.weight.shape[2:]),
            padding=self.padding,
            groups=batch,
        )
        return out.reshape(batch, -1, height, width)


class StyledConv(nn.Module):
    """One style-modulated 3x3 conv with noise injection (layout set by ``modulation``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        style_dim: int,
        modulation: str = "adain",
        noise: str = "per_pixel",
        noise_init: float = 0.1,
    ) -> None:
        super().__init__()
        check_choice("modulation", modulation, MODULATIONS)
        self.modulation = modulation
        self.noise = NoiseInjection(out_channels, noise, noise_init)
        if modulation == "adain":
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
            self.adain = AdaIN(out_channels, style_dim)
        else:
            self.modconv = ModulatedConv2d(in_channels, out_channels, style_dim)
            self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x: Tensor, w: Tensor, noise: Tensor) -> Tensor:
        if self.modulation == "adain":
            x = F.leaky_relu(self.noise(self.conv(x), noise), LEAKY_SLOPE)
            return self.adain(x, w)
        return F.leaky_relu(self.noise(self.modconv(x, w), noise) + self.bias, LEAKY_SLOPE)


class StyleUNetGenerator(PaddedNetwork):
    """Mask -> image generator: U-Net encoder, mapping network, style-modulated noisy decoder."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base_width: int = 16,
        depth: int = 4,
        norm: str = "batch",
        latent_dim: int = 128,
        mapping_layers: int = 3,
        mapping_lr_mul: float = 0.1,
        modulation: str = "adain",
        noise: str = "per_pixel",
        noise_init: float = 0.1,
        upsampling: str = "transpose",
        pad_mode: str = "reflect",
    ) -> None:
        check_choice("modulation", modulation, MODULATIONS)
        check_choice("noise", noise, NOISE_MODES)
        super().__init__(depth, pad_mode)
        widths = channel_widths(base_width, depth)
        self.latent_dim = latent_dim
        self.noise_mode = noise
        self.mapping = MappingNetwork(latent_dim, mapping_layers, mapping_lr_mul)
        self.encoder = UNetEncoder(in_channels, widths, norm, "leaky_relu")
        levels = list(reversed(range(depth)))
        self.up = nn.ModuleList(
            upsample_block(widths[k + 1], widths[k], upsampling) for k in levels
        )
        self.decoder = nn.ModuleList(
            nn.ModuleList(
                StyledConv(c_in, widths[k], latent_dim, modulation, noise, noise_init)
                for c_in in (2 * widths[k], widths[k])
            )
            for k in levels
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)
        init_weights(self, nonlinearity="leaky_relu")
        nn.init.kaiming_normal_(self.head.weight, nonlinearity="linear")

    @property
    def num_style_layers(self) -> int:
        """Number of styled convs, i.e. of per-layer styles a B x L x D ``w`` must provide."""
        return 2 * self.depth

    def sample_z(
        self,
        batch: int,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Latents z ~ N(0, I), B x latent_dim."""
        return torch.randn(batch, self.latent_dim, device=device, generator=generator)

    def make_noise(
        self,
        batch: int,
        size: tuple[int, int],
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> list[Tensor]:
        """Noise for every styled conv for inputs of ``size`` (H, W).

        per_pixel: N(0, 1) maps B x 1 x h x w at each conv's (padded) resolution;
        faithful: one U(0, 1) map B x 1 x H x W shared by all convs, as in the authors' code.
        """
        if self.noise_mode == "faithful":
            shared = torch.rand(batch, 1, *size, device=device, generator=generator)
            return [shared] * self.num_style_layers
        multiple = 2**self.depth
        padded = [math.ceil(n / multiple) * multiple for n in size]
        return [
            torch.randn(
                batch, 1, padded[0] // 2**k, padded[1] // 2**k, device=device, generator=generator
            )
            for k in reversed(range(self.depth))
            for _ in range(2)
        ]

    def mix_styles(self, z_first: Tensor, z_second: Tensor, crossover: int) -> Tensor:
        """Style mixing: per-layer styles B x L x D, w(z_first) before layer ``crossover``,
        w(z_second) from it on (``crossover`` in 0..L; 0 or L gives a single style)."""
        if not 0 <= crossover <= self.num_style_layers:
            raise ValueError(f"crossover must be in 0..{self.num_style_layers}, got {crossover}")
        first, second = self.mapping(z_first), self.mapping(z_second)
        layer = torch.arange(self.num_style_layers, device=first.device)[None, :, None]
        return torch.where(layer < crossover, first[:, None], second[:, None])

    def forward(
        self,
        mask: Tensor,
        z: Tensor | None = None,
        noise: list[Tensor] | None = None,
        w: Tensor | None = None,
    ) -> Tensor:
        """Image in [-1, 1] (B x out_channels x H x W) for a {0, 1} mask; z, noise drawn if None."""
        batch = mask.shape[0]
        size = (mask.shape[-2], mask.shape[-1])
        styles = self._per_layer_styles(batch, mask.device, z, w)
        if noise is None:
            noise = self.make_noise(batch, size, mask.device)
        if len(noise) != self.num_style_layers:
            raise ValueError(f"need {self.num_style_layers} noise maps, got {len(noise)}")
        x, pad = self.pad(2 * mask - 1)
        x, skips = self.encoder(x)
        layer = 0
        for up, convs, skip in zip(self.up, self.decoder, reversed(skips), strict=True):
            x = torch.cat([up(x), skip], dim=1)
            for conv in convs:
                x = conv(x, styles[:, layer], noise[layer])
                layer += 1
        return crop_padding(torch.tanh(self.head(x)), pad)

    def _per_layer_styles(
        self, batch: int, device: torch.device, z: Tensor | None, w: Tensor | None
    ) -> Tensor:
        """B x L x D styles from w (B x D or B x L x D) or from z (sampled when both are None)."""
        if w is not None and z is not None:
            raise ValueError("give z or w, not both")
        if w is None:
            w = self.mapping(self.sample_z(batch, device) if z is None else z)
        if w.dim() == 2:
            w = w[:, None].expand(-1, self.num_style_layers, -1)
        expected = (batch, self.num_style_layers, self.latent_dim)
        if tuple(w.shape) != expected:
            raise ValueError(
                f"styles must be {expected[0]} x {expected[2]} or {expected}, got {tuple(w.shape)}"
            )
        return w
