"""A run's synthetic bank (``data.bank``), opened and checked against the run's split before any
image is read: a bank that could carry a validation or test image is refused."""

from __future__ import annotations

from pathlib import Path

from sagegan.data.bank import Bank, open_bank
from sagegan.data.splits import Split, load_split
from sagegan.errors import DataError
from sagegan.models.run_folder import RunFolder
from sagegan.train.config import TrainConfig


def open_run_bank(config: TrainConfig, data_dir: Path, split: Split) -> Bank | None:
    """The run's checked synthetic bank (``data.bank``; None without one): refused before any
    image is read when it could carry a validation or test image (`sagegan.data.bank`)."""
    if config.data.bank is None:
        return None
    held_out = frozenset([*split.val, *split.test])
    bank = open_bank(config.data.bank, data_dir, held_out)
    check_bank_generator(bank, held_out)
    return bank


def check_bank_generator(bank: Bank, held_out: frozenset[str]) -> None:
    """A bank rendered by a generator whose run trained on a held-out image could show it: when
    the bank's manifest names a run folder with a split file, its training images are checked."""
    if bank.generator is None:
        return
    split_file = RunFolder(bank.generator).split_path()
    if not split_file.is_file():
        return
    overlap = sorted(set(load_split(split_file).train) & held_out)
    if overlap:
        raise DataError(
            bank.folder,
            f"data.bank: the bank's generator ({bank.generator}) trained on {overlap[0]!r}, a "
            "validation or test image of this run; use a generator trained on this run's split",
        )
