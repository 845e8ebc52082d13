"""Perceptual (feature) loss: weighted L1 between deep features of a generated and a target image.

``loss(x, y) = sum_k w_k * mean |phi_k(x) - phi_k(y)|`` with the target's features computed without
gradient; gradients flow to ``x`` only. By default phi_k are the VGG ReLU outputs relu1_1 ...
relu5_1 with weights 1/32, 1/16, 1/8, 1/4, 1, as the reference (pix2pixHD style).

Inputs are 1-channel (or 3-channel) images in [-1, 1]. They are mapped to [0, 1], normalised with
the ImageNet mean/std the VGG weights were trained with, and a grey image is repeated to 3 channels.
The reference fed [-1, 1] grey images to VGG19 without this normalisation; we fix that. (The stlpips
file's own input scaling layer is exactly this ImageNet normalisation expressed for [-1, 1] inputs.)

Weight sources, tried in this order by ``source="auto"``; nothing is ever downloaded:

1. ``vgg_weights=PATH``: a torchvision-format VGG19 or VGG16 state dict (``.pth``), see
   ``sagegan.losses.vgg_weights``.
2. The VGG16 trunk inside the installed ``stlpips-pytorch==0.0.2`` wheel, read as a file (the
   package is never imported). Those weights were fine-tuned on human perceptual judgements as part
   of a shift-tolerant LPIPS network that uses anti-aliased (blur) pooling, not plain ImageNet
   classification. We use its convolutions with ordinary max pooling: a reasonable perceptual
   feature space, but not identical to ImageNet VGG16 nor to the stlpips network itself.
3. ``vgg_weights="random"``: a randomly initialised VGG19 (tests only; logs a warning).

``source="segmenter"`` uses a caller-supplied ``feature_extractor`` (e.g. a segmenter's encoder)
instead of VGG; images are passed to it unchanged, its parameters are NOT frozen here (gradients of
the loss reach them unless the caller excludes them), and an ``nn.Module`` extractor becomes a
submodule, so pass a bound method (``segmenter.encode``) to keep it out of this module's parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sagegan.errors import ConfigError
from sagegan.losses import vgg_weights as vgg_files
from sagegan.models.vgg import VGGFeatures

LOGGER = logging.getLogger("sagegan")

REFERENCE_LAYER_WEIGHTS: dict[str, float] = {
    "relu1_1": 1.0 / 32,
    "relu2_1": 1.0 / 16,
    "relu3_1": 1.0 / 8,
    "relu4_1": 1.0 / 4,
    "relu5_1": 1.0,
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SOURCES = ("auto", "file", "stlpips", "random", "segmenter")
RANDOM = "random"
NO_WEIGHTS_MESSAGE = (
    "no VGG weights for the perceptual loss: pass --vgg-weights PATH (a torchvision vgg19/vgg16 "
    ".pth state dict) or pip install stlpips-pytorch==0.0.2"
)

FeatureExtractor = Callable[[Tensor], Sequence[Tensor]]


class PerceptualLoss(nn.Module):
    """Weighted L1 feature loss on a frozen VGG trunk or on a caller-supplied feature extractor.

    Build it with ``build_perceptual_loss``. ``weights_source`` says where the features come from.
    ``downscale`` (integer >= 1) average-pools both images by that factor first (cheaper on CPU).
    """

    def __init__(
        self,
        layer_weights: Mapping[str, float] | Sequence[float],
        weights_source: str,
        vgg: VGGFeatures | None = None,
        feature_extractor: FeatureExtractor | None = None,
        downscale: int = 1,
    ) -> None:
        super().__init__()
        if (vgg is None) == (feature_extractor is None):
            raise ConfigError(
                "PerceptualLoss needs exactly one of a VGG trunk or a feature extractor"
            )
        _check_downscale(downscale)
        self.weights_source = weights_source
        self.downscale = downscale
        self.vgg = vgg
        self.feature_extractor = feature_extractor
        if vgg is not None:
            if not isinstance(layer_weights, Mapping):
                raise ConfigError("VGG perceptual loss needs layer weights keyed by layer name")
            unknown = [name for name in layer_weights if name not in vgg.layer_indices]
            if unknown:
                raise ConfigError(
                    f"unknown {vgg.arch} layer(s) {', '.join(unknown)}; choose from "
                    f"{', '.join(vgg.layer_indices)}"
                )
            self.layer_weights = dict(layer_weights)
            vgg.requires_grad_(False)
            vgg.eval()
            self.register_buffer(
                "mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
            )
            self.register_buffer(
                "std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False
            )
        else:
            self.feature_weights = [float(w) for w in layer_weights]

    def train(self, mode: bool = True) -> PerceptualLoss:
        """Switch modes but keep the VGG trunk in eval mode."""
        super().train(mode)
        if self.vgg is not None:
            self.vgg.eval()
        return self

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Perceptual distance of ``x`` (gets gradients) to the target ``y`` (held constant)."""
        if x.shape != y.shape:
            raise ValueError(f"perceptual loss: shapes differ {tuple(x.shape)} vs {tuple(y.shape)}")
        if self.downscale > 1:
            x = F.avg_pool2d(x, self.downscale)
            y = F.avg_pool2d(y, self.downscale)
        x_features = self.features(x)
        with torch.no_grad():
            y_features = self.features(y)
        if self.vgg is not None:
            weights = list(self.layer_weights.values())
        else:
            weights = self.feature_weights or [1.0] * len(x_features)
        if len(x_features) != len(weights):
            raise ValueError(
                f"feature extractor returned {len(x_features)} maps for {len(weights)} weights"
            )
        total = x.new_zeros(())
        for weight, fx, fy in zip(weights, x_features, y_features, strict=True):
            total = total + weight * F.l1_loss(fx, fy.detach())
        return total

    def features(self, images: Tensor) -> list[Tensor]:
        """The feature maps the loss compares, in layer order."""
        if self.vgg is None:
            assert self.feature_extractor is not None
            return list(self.feature_extractor(images))
        outputs = self.vgg(self.to_vgg_input(images), self.layer_weights)
        return [outputs[name] for name in self.layer_weights]

    def to_vgg_input(self, images: Tensor) -> Tensor:
        """[-1, 1] images with 1 or 3 channels -> ImageNet-normalised 3-channel VGG input."""
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"perceptual loss expects B x 1|3 x H x W, got {tuple(images.shape)}")
        unit = (images + 1.0) * 0.5
        return (unit.expand(-1, 3, -1, -1) - self.mean) / self.std


def resolve_layer_weights(layers: Mapping[str, float] | Sequence[str] | None) -> dict[str, float]:
    """Layer -> weight: the reference table, a subset of it by name, or an explicit mapping."""
    if layers is None:
        return dict(REFERENCE_LAYER_WEIGHTS)
    if isinstance(layers, str):
        layers = [layers]
    if isinstance(layers, Mapping):
        resolved = {str(name): float(weight) for name, weight in layers.items()}
    else:
        unknown = [name for name in layers if name not in REFERENCE_LAYER_WEIGHTS]
        if unknown:
            raise ConfigError(
                f"perceptual layers {', '.join(unknown)} have no reference weight; pass a mapping "
                f"layer -> weight (reference layers: {', '.join(REFERENCE_LAYER_WEIGHTS)})"
            )
        resolved = {name: REFERENCE_LAYER_WEIGHTS[name] for name in layers}
    if not resolved:
        raise ConfigError("perceptual loss needs at least one layer")
    return resolved


def load_vgg(
    source: str = "auto", vgg_weights_path: str | Path | None = None, random_arch: str = "vgg19"
) -> tuple[VGGFeatures, str]:
    """A VGG trunk and a description of where its weights came from (see the module docstring)."""
    if source not in ("auto", "file", "stlpips", "random"):
        raise ConfigError(f"unknown VGG weights source {source!r}")
    is_random = isinstance(vgg_weights_path, str) and vgg_weights_path == RANDOM
    if source in ("stlpips", "random") and vgg_weights_path is not None and not is_random:
        raise ConfigError(
            f"vgg_weights={vgg_weights_path} conflicts with perceptual source {source!r}"
        )
    if source == "random" or (source == "auto" and is_random):
        model = VGGFeatures(random_arch)
        description = f"random initialisation ({random_arch})"
        LOGGER.warning(
            "perceptual loss uses a RANDOMLY initialised %s (meant for tests)", random_arch
        )
        return model, description
    if source == "file" or (source == "auto" and vgg_weights_path is not None):
        if vgg_weights_path is None or is_random:
            raise ConfigError(
                "perceptual source 'file' needs vgg_weights=PATH (--vgg-weights PATH)"
            )
        model = vgg_files.load_vgg_file(vgg_weights_path)
        description = f"file {vgg_weights_path} ({model.arch})"
    else:
        path = vgg_files.find_stlpips_vgg_weights()
        if path is None:
            raise ConfigError(NO_WEIGHTS_MESSAGE)
        model = vgg_files.load_stlpips_vgg(path)
        description = (
            f"stlpips-pytorch {vgg_files.stlpips_version()} shift-tolerant LPIPS VGG16 "
            f"convolutions ({path})"
        )
    LOGGER.info("perceptual loss VGG weights: %s", description)
    return model, description


def build_perceptual_loss(
    source: str = "auto",
    vgg_weights: str | Path | None = None,
    layers: Mapping[str, float] | Sequence[str] | None = None,
    downscale: int = 1,
    feature_extractor: FeatureExtractor | None = None,
    feature_weights: Sequence[float] | None = None,
    random_arch: str = "vgg19",
) -> PerceptualLoss:
    """A perceptual loss from the given weight source.

    ``layers``: VGG layer names (weights from the reference table) or a mapping name -> weight;
    default relu1_1..relu5_1 with 1/32, 1/16, 1/8, 1/4, 1. ``source="segmenter"`` needs
    ``feature_extractor`` (images -> list of feature maps) and optionally ``feature_weights``
    (default 1 per map).
    ``random_arch`` picks the architecture for random weights.
    """
    if source not in SOURCES:
        raise ConfigError(
            f"unknown perceptual loss source {source!r}; choose from {', '.join(SOURCES)}"
        )
    if source == "segmenter":
        if feature_extractor is None:
            raise ConfigError("perceptual source 'segmenter' needs a feature_extractor")
        LOGGER.info("perceptual loss features: segmenter feature extractor")
        return PerceptualLoss(
            feature_weights or [],
            "segmenter feature extractor",
            feature_extractor=feature_extractor,
            downscale=downscale,
        )
    if feature_extractor is not None or feature_weights is not None:
        raise ConfigError(
            f"feature_extractor/feature_weights apply only to source 'segmenter', not {source!r}"
        )
    layer_weights = resolve_layer_weights(layers)
    _check_downscale(downscale)
    model, description = load_vgg(source, vgg_weights, random_arch)
    return PerceptualLoss(layer_weights, description, vgg=model, downscale=downscale)


def _check_downscale(downscale: int) -> None:
    if isinstance(downscale, bool) or not isinstance(downscale, int) or downscale < 1:
        raise ConfigError(f"perceptual downscale must be an integer >= 1, got {downscale!r}")
