"""Two-stage training: Attention U-Net pretraining, then SAGE-GAN with online augmentation.

Typical use::

    from sagegan.train import config_from_cli, train

    result = train("my_data", "runs/first", config_from_cli("cpu-small"))
    result.best  # pointer to the best checkpoint (by validation score)
"""

from __future__ import annotations

from sagegan.train.api import RunResult, train
from sagegan.train.config import PRESETS, TrainConfig, config_from_cli

__all__ = ["PRESETS", "RunResult", "TrainConfig", "config_from_cli", "train"]
