"""The pretrained model shipped inside the package: ``--model builtin``.

A generalist Attention U-Net with an instance head, trained on the EMPS training images (SEM and
TEM figure crops of many materials) and simulated SEM images
(``benchmarks/pretrain_generalist.py``). It is stored as a checkpoint folder,
``sagegan/models/pretrained/generalist/`` (``segmenter.safetensors``, ``info.json`` with the
instance-split settings, ``MODEL_CARD.md``), so everything that reads a run's checkpoint reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

from sagegan.errors import DataError
from sagegan.models.run_folder import CheckpointFolder

BUILTIN = "builtin"
BUILTIN_FOLDER = Path(__file__).resolve().parent / "pretrained" / "generalist"
MODEL_CARD = "MODEL_CARD.md"


def builtin_checkpoint() -> Path:
    """The shipped generalist's checkpoint folder; DataError when this install lacks it."""
    if not CheckpointFolder(BUILTIN_FOLDER).weights().is_file():
        raise DataError(BUILTIN_FOLDER, "the builtin model is missing from this installation")
    return BUILTIN_FOLDER


def is_builtin(model: str | Path | None) -> bool:
    """Whether ``model`` names the builtin model (the word "builtin", unless such a path exists)."""
    return model is not None and str(model) == BUILTIN and not Path(BUILTIN).exists()


def model_location(model: str | Path) -> Path:
    """The path a ``--model`` value designates: the builtin checkpoint folder, or ``model``."""
    return builtin_checkpoint() if is_builtin(model) else Path(model)


def builtin_cache() -> Path:
    """Where files made from the builtin model go (e.g. its ONNX export): the installed package
    may be read-only, so ``$XDG_CACHE_HOME/sagegan/builtin`` (``~/.cache`` by default)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "sagegan" / BUILTIN
