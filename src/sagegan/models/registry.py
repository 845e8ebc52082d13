"""Model registry: build any network by name with keyword options, list them, count parameters.

All segmenters take the same core options (``in_channels``, ``out_channels``, ``base_width``,
``depth``, ``norm``) and return a :class:`~sagegan.models.output.SegmentationOutput`, so training
code can swap them by name. ``default_cfg`` is a network's full set of options at the CPU-sized
defaults; ``paper_cfg`` holds the overrides giving the size used in the SAGE-GAN paper and its
comparison code (width 64; 32 for DC-UNet, as in the DC-UNet paper and the authors' comparison).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from sagegan.errors import ConfigError
from sagegan.models.attention_unet import AttentionUNet
from sagegan.models.dc_unet import DCUNet
from sagegan.models.discriminator import PatchDiscriminator
from sagegan.models.half_unet import HalfUNet
from sagegan.models.style_unet import StyleUNetGenerator
from sagegan.models.unet import UNet
from sagegan.models.unet_plus_plus import UNetPlusPlus

ModelKind = Literal["segmenter", "generator", "discriminator"]


@dataclass(frozen=True)
class ModelInfo:
    """What a registered network is, where it comes from and how it is configured by default."""

    name: str
    kind: ModelKind
    citation: str
    description: str
    default_cfg: dict[str, Any]
    paper_cfg: dict[str, Any] = field(default_factory=dict)


def _defaults(cls: type[nn.Module]) -> dict[str, Any]:
    """The constructor's keyword defaults: the network's full default configuration."""
    return {
        name: parameter.default
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


_ENTRIES: tuple[tuple[type[nn.Module], str, ModelKind, str, str, dict[str, Any]], ...] = (
    (
        AttentionUNet,
        "attention_unet",
        "segmenter",
        "Oktay et al. 2018, Attention U-Net: Learning Where to Look for the Pancreas, "
        "MIDL (arXiv:1804.03999)",
        "U-Net with additive attention gates on every skip; returns the gate maps",
        {"base_width": 64},
    ),
    (
        UNet,
        "unet",
        "segmenter",
        "Ronneberger, Fischer & Brox 2015, U-Net, MICCAI (arXiv:1505.04597)",
        "encoder-decoder with concatenated skips, same-padded double 3x3 convs",
        {"base_width": 64},
    ),
    (
        UNetPlusPlus,
        "unet_plus_plus",
        "segmenter",
        "Zhou et al. 2018, UNet++: A Nested U-Net Architecture for Medical Image "
        "Segmentation, DLMIA (arXiv:1807.10165)",
        "nested dense skip pathways, optional deep supervision",
        {"base_width": 64},
    ),
    (
        HalfUNet,
        "half_unet",
        "segmenter",
        "Lu, She, Tie & Xu 2022, Half-UNet: A Simplified U-Net Architecture for Medical "
        "Image Segmentation, Front. Neuroinform. 16:911679",
        "one channel count, Ghost modules, full-scale fusion by addition",
        {"base_width": 64},
    ),
    (
        DCUNet,
        "dc_unet",
        "segmenter",
        "Lou, Guan & Loew 2021, DC-UNet: Rethinking the U-Net Architecture with Dual "
        "Channel Efficient CNN, SPIE Medical Imaging (arXiv:2006.00414)",
        "dual-channel MultiRes-style blocks and residual paths on the skips",
        {"base_width": 32},
    ),
    (
        StyleUNetGenerator,
        "style_unet_generator",
        "generator",
        "SAGE-GAN sec. 2.3 after cGAN-Seg (Abzargar et al. 2024, iScience) and StyleGAN "
        "(Karras et al. 2019, arXiv:1812.04948)",
        "mask -> image U-Net with mapping network, AdaIN/modconv styles and noise",
        {"base_width": 64},
    ),
    (
        PatchDiscriminator,
        "patch_discriminator",
        "discriminator",
        "Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial "
        "Networks, CVPR (arXiv:1611.07004)",
        "70x70 PatchGAN scoring every patch of an image or mask",
        {"base_width": 64},
    ),
)

_REGISTRY: dict[str, tuple[type[nn.Module], ModelInfo]] = {
    name: (cls, ModelInfo(name, kind, citation, description, _defaults(cls), paper_cfg))
    for cls, name, kind, citation, description, paper_cfg in _ENTRIES
}


def list_models() -> list[ModelInfo]:
    """Every registered network (copies: editing them does not change the registry)."""
    return [
        ModelInfo(
            info.name,
            info.kind,
            info.citation,
            info.description,
            dict(info.default_cfg),
            dict(info.paper_cfg),
        )
        for _, info in _REGISTRY.values()
    ]


def model_kind(name: str) -> ModelKind | None:
    """What the registered network ``name`` is (None for a name the registry does not know)."""
    entry = _REGISTRY.get(name)
    return None if entry is None else entry[1].kind


def build_model(name: str, **cfg: Any) -> nn.Module:
    """Build the network ``name`` with ``cfg`` overriding its defaults.

    Raises ConfigError naming the valid choices for an unknown name or option.
    """
    check_model_options(name, cfg)
    cls, info = _REGISTRY[name]
    return cls(**{**info.default_cfg, **cfg})


def check_model_options(name: str, cfg: Iterable[str]) -> None:
    """ConfigError naming the valid choices when ``name`` is no registered network or ``cfg``
    holds an option name it does not take (without building it)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(_REGISTRY)}")
    info = _REGISTRY[name][1]
    unknown = sorted(set(cfg) - set(info.default_cfg))
    if unknown:
        raise ConfigError(
            f"{name}: unknown option(s) {', '.join(unknown)}; "
            f"valid options: {', '.join(info.default_cfg)}"
        )


def count_parameters(model: nn.Module) -> int:
    """Number of parameter values of ``model`` (shared parameters counted once)."""
    return sum(parameter.numel() for parameter in model.parameters())


def default_model_rows() -> list[tuple[ModelInfo, int]]:
    """Every registered network with its parameter count at the default configuration."""
    return [(info, count_parameters(build_model(info.name))) for info in list_models()]


def format_model_table(rows: Iterable[tuple[ModelInfo, int]] | None = None) -> str:
    """Plain-text table of (model, parameter count) rows; defaults to :func:`default_model_rows`."""
    rows = default_model_rows() if rows is None else list(rows)
    header = ("name", "kind", "width", "parameters", "description")
    lines = [
        (
            info.name,
            info.kind,
            str(info.default_cfg.get("base_width", "")),
            f"{parameters:,}",
            info.description,
        )
        for info, parameters in rows
    ]
    table = [header, *lines]
    widths = [max(len(row[column]) for row in table) for column in range(len(header))]
    citations = [f"  {info.name}: {info.citation}" for info, _ in rows]
    return "\n".join([*(_format_row(row, widths) for row in table), "", "References:", *citations])


def _format_row(row: tuple[str, ...], widths: list[int]) -> str:
    """Cells padded to their column width; the parameter column is right-aligned."""
    cells = [
        cell.rjust(width) if column == 3 else cell.ljust(width)
        for column, (cell, width) in enumerate(zip(row, widths, strict=True))
    ]
    return "  ".join(cells).rstrip()
