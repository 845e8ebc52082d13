"""Starting a run from a trained segmenter (``model.init``, ``sagegan train --init``): fine-tuning.

``model.init`` is "builtin" (the shipped generalist, `sagegan.models.builtin`), a run folder (its
best checkpoint), a checkpoint folder or a segmenter weights file. The run then trains that
network: its registry name and options replace the configured segmenter before the run is
planned (`with_init_architecture`: the plan times and records that network and leaves it as it
is), and its instance head decides ``data.boundary_px`` after the plan (`with_init_head`: kept
when planned, 1 px when the plan had none, 0 for a one-channel network) and ``data.centre_map``
(on for a three-channel network). The working resolution ``data.scale`` is the one the network
was trained at unless the config sets it (kept from the plan). Everything else (patches,
schedule, iterations) comes from the config.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from sagegan.errors import ConfigError
from sagegan.models.checkpoint import load_model, read_training_info, training_scale
from sagegan.models.registry import list_models
from sagegan.train.config import TrainConfig
from sagegan.train.config_sections import kept_by_plan

LOGGER = logging.getLogger("sagegan")


@dataclass(frozen=True)
class InitialSegmenter:
    """The segmenter of ``model.init``, read once: its registry name, its options less
    ``out_channels``, its number of output channels, its weights and the working resolution it
    was trained at (``data.scale``; 1 when its info does not say)."""

    name: str
    kwargs: dict[str, Any]
    heads: int
    state: dict[str, Tensor]
    scale: float = 1.0


def read_initial_segmenter(config: TrainConfig) -> InitialSegmenter | None:
    """The segmenter of ``model.init`` (None without one).

    DataError when the model cannot be found or read; ConfigError when it is not a segmenter."""
    if config.model.init is None:
        return None
    init = str(config.model.init)
    model, metadata = load_model(init, "best")
    segmenters = {info.name for info in list_models() if info.kind == "segmenter"}
    if metadata.get("model") not in segmenters:
        raise ConfigError(
            f"model.init {init}: {Path(metadata['path']).name} holds no segmenter "
            f"(model {metadata.get('model')!r}; give a run folder or segmenter weights)"
        )
    kwargs: dict[str, Any] = dict(metadata.get("model_kwargs", {}))
    heads = kwargs.pop("out_channels", 1)
    scale = training_scale(read_training_info(Path(metadata["path"])))
    return InitialSegmenter(metadata["model"], kwargs, heads, model.state_dict(), scale)


def with_init_architecture(config: TrainConfig, init: InitialSegmenter | None) -> TrainConfig:
    """``config`` with the segmenter of ``init`` (registry name and options, the instance head
    aside), so that a plan times and records the network the run trains, and, unless the config
    sets it, the working resolution it was trained at (kept from the plan); ``config`` itself
    without an init."""
    if init is None:
        return config
    values = config.to_dict()
    values["model"]["segmenter"] = init.name
    values["model"]["segmenter_kwargs"] = init.kwargs
    if not kept_by_plan("data.scale", config.plan.keep):
        values["data"]["scale"] = init.scale
        values["plan"]["keep"] = [*config.plan.keep, "data.scale"]
    return TrainConfig.from_dict(values)


def with_init_head(config: TrainConfig, init: InitialSegmenter | None) -> TrainConfig:
    """``config`` with ``data.boundary_px`` and ``data.centre_map`` decided by the instance head
    of ``init`` (the width kept when planned, 1 px when not, 0 for a one-channel network; the
    centre map on for three channels); ``config`` itself without an init."""
    if init is None:
        return config
    values = config.to_dict()
    planned = values["data"]["boundary_px"]
    values["data"]["boundary_px"] = (planned or 1) if init.heads >= 2 else 0
    values["data"]["centre_map"] = init.heads == 3
    head = {1: "one output channel", 2: "with an instance head"}.get(
        init.heads, "with an instance head and centre map"
    )
    LOGGER.info("starting from %s (%s, %s)", config.model.init, init.name, head)
    return TrainConfig.from_dict(values)
