"""A segmenter's contracting path as a feature extractor (the domain check, the realism KID)."""

from __future__ import annotations

from torch import Tensor, nn

from sagegan.models.blocks import PoolingEncoder


def has_encoder(model: nn.Module) -> bool:
    """Whether ``model`` has a pooling encoder and pads its input (what `encoder_levels` reads)."""
    return isinstance(getattr(model, "encoder", None), PoolingEncoder) and hasattr(model, "pad")


def encoder_levels(model: nn.Module, batch: Tensor) -> list[Tensor]:
    """Every encoder level's output for a [B, C, H, W] ``batch``, padded as ``model`` pads its
    input: finest first, the bottleneck last."""
    padded, _ = model.pad(batch)
    bottleneck, skips = model.encoder(padded)
    return [*skips, bottleneck]
