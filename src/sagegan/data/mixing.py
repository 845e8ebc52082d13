"""Training patches drawn from the real training images and a synthetic bank (``data.bank``)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from sagegan.data.dataset import Sample, SegmentationDataset
from sagegan.errors import ConfigError

BANK_DRAW_KEY = 0xBA4C  # keeps the bank draw's random stream apart from the item's own


class BankMixDataset(Dataset):
    """The items of ``real`` (a `SegmentationDataset`), a ``fraction`` of them cut from ``bank``.

    Item i of epoch e comes from the bank with probability ``fraction``, and then from a bank
    sample chosen uniformly, both drawn from ``np.random.default_rng([seed, e, i, BANK_DRAW_KEY])``;
    its crop, augmentation and targets are made by ``real`` with item i's own generator
    (`SegmentationDataset.item`). So the draw depends only on (seed, epoch, index), a resumed run
    reproduces exactly, an item not taken from the bank is the one ``real`` alone gives, and the
    length (the compute per epoch) is ``real``'s. ``fraction`` is ``data.bank_fraction``, whose
    range [0, 1) the config rules check (`sagegan.train.config_rules`).
    """

    def __init__(self, real: SegmentationDataset, bank: list[Sample], fraction: float) -> None:
        if not bank:
            raise ConfigError("a bank needs at least one sample")
        self.real = real
        self.bank = bank
        self.fraction = fraction

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws, crops and augmentations the items use."""
        self.real.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.real)

    def bank_index(self, index: int) -> int | None:
        """The bank sample item ``index`` of the current epoch is cut from; None: a real image."""
        rng = np.random.default_rng([self.real.seed, self.real.epoch, index, BANK_DRAW_KEY])
        if rng.random() >= self.fraction:
            return None
        return int(rng.integers(len(self.bank)))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        chosen = self.bank_index(index)
        if chosen is None:
            return self.real[index]
        return self.real.item(self.bank[chosen], self.real.item_rng(index))
