"""VGG16/VGG19 convolutional trunks (Simonyan & Zisserman 2015) that return named ReLU features.

The trunk is an ``nn.Sequential`` stored as ``features`` with the same layer indices as
torchvision's ``vgg16().features`` / ``vgg19().features``, so a torchvision state dict
(``features.0.weight``, ``features.0.bias``, ...) loads with strict key matching. Layers are named
``relu{block}_{conv}``: ``relu1_1`` is the ReLU after the first convolution of the first block,
``relu5_1`` the ReLU after the first convolution of the fifth block.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from sagegan.errors import ConfigError

POOL = "M"
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg16": (
        64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL,
        512, 512, 512, POOL, 512, 512, 512, POOL,
    ),
    "vgg19": (
        64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL,
        512, 512, 512, 512, POOL, 512, 512, 512, 512, POOL,
    ),
}  # fmt: skip


def relu_layer_indices(arch: str) -> dict[str, int]:
    """Index in ``features`` of every named ReLU (``relu1_1`` ... ``relu5_3``/``relu5_4``)."""
    config = _config(arch)
    indices: dict[str, int] = {}
    index, block, conv = 0, 1, 0
    for item in config:
        if item == POOL:
            index += 1
            block, conv = block + 1, 0
        else:
            conv += 1
            indices[f"relu{block}_{conv}"] = index + 1
            index += 2
    return indices


def conv_layer_indices(arch: str) -> list[int]:
    """Indices in ``features`` of the convolutions of ``arch``, in order."""
    return [index - 1 for index in relu_layer_indices(arch).values()]


class VGGFeatures(nn.Module):
    """The convolutional part of VGG16 or VGG19 with torchvision-compatible parameter names.

    Weights are randomly initialised (Kaiming normal, fan-out, as torchvision); load real weights
    with ``load_state_dict``. Input: B x 3 x H x W, normalised as the weights expect (ImageNet
    mean/std).
    """

    def __init__(self, arch: str = "vgg19") -> None:
        super().__init__()
        self.arch = arch
        layers: list[nn.Module] = []
        in_channels = 3
        for item in _config(arch):
            if item == POOL:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                assert isinstance(item, int)
                layers += [
                    nn.Conv2d(in_channels, item, kernel_size=3, padding=1),
                    nn.ReLU(inplace=True),
                ]
                in_channels = item
        self.features = nn.Sequential(*layers)
        self.layer_indices = relu_layer_indices(arch)
        for module in self.features:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
        """Features at the named ReLU layers; stops after the deepest requested layer."""
        wanted = {self._index(name): name for name in layers}
        if not wanted:
            raise ConfigError("VGGFeatures: no layers requested")
        outputs: dict[str, Tensor] = {}
        deepest = max(wanted)
        for index, module in enumerate(self.features):
            x = module(x)
            if index in wanted:
                outputs[wanted[index]] = x
            if index == deepest:
                break
        return outputs

    def _index(self, name: str) -> int:
        if name not in self.layer_indices:
            choices = ", ".join(self.layer_indices)
            raise ConfigError(f"unknown {self.arch} layer {name!r}; choose from {choices}")
        return self.layer_indices[name]


def _config(arch: str) -> tuple[int | str, ...]:
    if arch not in VGG_CONFIGS:
        raise ConfigError(
            f"unknown VGG architecture {arch!r}; choose from {', '.join(VGG_CONFIGS)}"
        )
    return VGG_CONFIGS[arch]


def build_vgg(arch: str = "vgg19", state_dict: dict[str, Tensor] | None = None) -> VGGFeatures:
    """A VGG trunk, optionally loaded (strictly) from a ``features.N.*`` state dict."""
    model = VGGFeatures(arch)
    if state_dict is not None:
        with torch.no_grad():
            model.load_state_dict(state_dict, strict=True)
    return model
