"""What both training stages build the same way: network specs, the segmenter's loss and the
plateau scheduler."""

from __future__ import annotations

from typing import Any

import torch

from sagegan.losses import BoundaryAwareLoss, build_segmentation_loss
from sagegan.train.config import TrainConfig


def net_spec(model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Registry name and kwargs of a network (stored with its weights)."""
    return {"model": model, "model_kwargs": dict(kwargs)}


def segmenter_spec(config: TrainConfig) -> dict[str, Any]:
    """The segmenter's spec; a second output channel (the instance head) when
    ``data.boundary_px`` > 0, and a third (its centre map) with ``data.centre_map``."""
    kwargs = dict(config.model.segmenter_kwargs)
    if config.data.boundary_px > 0:
        kwargs["out_channels"] = 3 if config.data.centre_map else 2
    return net_spec(config.model.segmenter, kwargs)


def segmentation_criterion(config: TrainConfig) -> torch.nn.Module:
    """The configured segmentation loss; on the boundary channel too, and BCE on the centre map,
    when the segmenter has an instance head."""
    loss = build_segmentation_loss(config.pretrain.loss, **config.pretrain.loss_kwargs)
    return BoundaryAwareLoss(loss) if config.data.boundary_px > 0 else loss


def plateau_scheduler(
    optimizer: torch.optim.Optimizer, factor: float, patience: int, faithful: bool
) -> torch.optim.lr_scheduler.ReduceLROnPlateau:
    """ReduceLROnPlateau on the validation score: mode "max" (or the reference's "min")."""
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min" if faithful else "max", factor=factor, patience=patience
    )
