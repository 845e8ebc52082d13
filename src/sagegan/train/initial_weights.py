"""Starting a run from a trained segmenter (``model.init``, ``sagegan train --init``): fine-tuning.

``model.init`` is "builtin" (the shipped generalist, `sagegan.models.builtin`), a run folder (its
best checkpoint), a checkpoint folder or a segmenter weights file. The run then trains that
network: its registry name and options replace the configured segmenter before the run is
planned (the plan times and records that network and leaves it as it is), and its instance head
decides ``data.boundary_px`` (kept when planned, 1 px when the plan had none, 0 for
a one-channel network). Everything else (patches, schedule, iterations) comes from the config.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import Tensor
from torch.nn import Module

from sagegan.errors import ConfigError
from sagegan.models.checkpoint import load_model
from sagegan.models.registry import list_models
from sagegan.train.config import TrainConfig

LOGGER = logging.getLogger("sagegan")


def init_architecture(config: TrainConfig) -> TrainConfig:
    """``config`` with the segmenter of ``model.init`` (registry name and options, the instance
    head aside), so that a plan times and records the network the run trains; ``config`` itself
    without an init."""
    if config.model.init is None:
        return config
    _, metadata, kwargs, _ = _read_init(config)
    return _with_segmenter(config, metadata["model"], kwargs)


def initial_segmenter(config: TrainConfig) -> tuple[TrainConfig, dict[str, Tensor] | None]:
    """``config`` with the architecture of ``model.init``, and that network's weights (``config``
    and None without an init).

    DataError when the model cannot be found or read; ConfigError when it is not a segmenter."""
    if config.model.init is None:
        return config, None
    model, metadata, kwargs, heads = _read_init(config)
    config = _with_segmenter(config, metadata["model"], kwargs)
    values = config.to_dict()
    planned = values["data"]["boundary_px"]
    values["data"]["boundary_px"] = (planned or 1) if heads == 2 else 0
    config = TrainConfig.from_dict(values)
    head = "with an instance head" if heads == 2 else "one output channel"
    LOGGER.info("starting from %s (%s, %s)", config.model.init, metadata["model"], head)
    return config, model.state_dict()


def _read_init(config: TrainConfig) -> tuple[Module, dict[str, Any], dict[str, Any], int]:
    """The network of ``model.init``, its metadata, its options less ``out_channels``, and its
    number of output channels."""
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
    return model, metadata, kwargs, heads


def _with_segmenter(config: TrainConfig, name: str, kwargs: dict[str, Any]) -> TrainConfig:
    values = config.to_dict()
    values["model"]["segmenter"] = name
    values["model"]["segmenter_kwargs"] = kwargs
    return TrainConfig.from_dict(values)
