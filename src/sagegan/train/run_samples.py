"""The samples a run trains and validates on: loaded (every unreadable pair reported together),
checked for degenerate masks before any training, and brought to the working resolution
(``data.scale``; validation stays on the native grid)."""

from __future__ import annotations

import logging
from pathlib import Path

from sagegan.data.check import Finding, MaskStats, find_degenerate, mask_stats
from sagegan.data.dataset import Sample, load_sample
from sagegan.data.pairing import Pair
from sagegan.data.resample import resample_sample
from sagegan.data.splits import Split
from sagegan.errors import MAX_LISTED_ERRORS, DataError, listing
from sagegan.train.config import TrainConfig
from sagegan.train.guards import SplitGuard

LOGGER = logging.getLogger("sagegan")


def load_run_samples(
    pairs: list[Pair], split: Split, config: TrainConfig, guard: SplitGuard
) -> tuple[list[Sample], list[Sample]]:
    """The loaded training and validation samples (the guard records every stem read)."""
    by_stem = {pair.stem: pair for pair in pairs}
    train_samples = _load_samples([by_stem[s] for s in split.train], config, guard, "training")
    val_samples = _load_samples([by_stem[s] for s in split.val], config, guard, "validation")
    return train_samples, val_samples


def check_native_samples(
    train: list[Sample], val: list[Sample], data_dir: Path, split: Split
) -> list[MaskStats]:
    """The native training then validation masks' stats, after raising the dataset errors among
    them (one `DataError` naming ``data_dir``)."""
    stats = [_stats(sample) for sample in [*train, *val]]
    _raise_data_errors(data_dir, find_degenerate(stats, None, split.val))
    return stats


def working_samples(
    native_train: list[Sample],
    native_stats: list[MaskStats],
    config: TrainConfig,
    data_dir: Path,
    split: Split,
    is_main: bool,
) -> list[Sample]:
    """The training samples at ``data.scale``, checked with the final patch size: errors raised,
    warnings logged when ``is_main``. ``native_stats``: `check_native_samples`'s."""
    train_samples = [resample_sample(s, config.data.scale) for s in native_train]
    stats = native_stats  # validation stays native; training is measured again when resampled
    if config.data.scale != 1.0:
        stats = [*map(_stats, train_samples), *native_stats[len(train_samples) :]]
    findings = find_degenerate(stats, config.data.patch_size, split.val)
    _raise_data_errors(data_dir, findings)
    if is_main:
        _log_data_warnings(findings)
    return train_samples


def _stats(sample: Sample) -> MaskStats:
    return mask_stats(sample.stem, sample.labels)


def _load_samples(
    pairs: list[Pair], config: TrainConfig, guard: SplitGuard, part: str
) -> list[Sample]:
    """Load every pair (recording its stem); all failures are reported together in one error."""
    samples, errors = [], []
    for pair in pairs:
        guard.allow(pair.stem)
        try:
            samples.append(
                load_sample(
                    pair, databar=config.data.databar, pixel_size_nm=config.data.pixel_size_nm
                )
            )
        except DataError as err:
            errors.append(str(err))
    if errors:
        shown = listing(errors, MAX_LISTED_ERRORS, "; ")
        raise DataError(None, f"{len(errors)} {part} pair(s) cannot be used: {shown}")
    if part == "training" and not any(sample.labels.any() for sample in samples):
        raise DataError(None, "every training mask is empty: there is nothing to learn")
    return samples


def _raise_data_errors(data_dir: Path, findings: list[Finding]) -> None:
    """One `DataError` naming the dataset folder for the errors among `find_degenerate`'s
    findings (before any training)."""
    errors = [str(f) for f in findings if f.severity == "error"]
    if errors:
        raise DataError(data_dir, "; ".join(errors))


def _log_data_warnings(findings: list[Finding]) -> None:
    """Log the warnings among `find_degenerate`'s findings, one line each, at most
    ``MAX_LISTED_ERRORS`` of them and an "and N more" line."""
    found = [f for f in findings if f.severity == "warning"]
    for finding in found[:MAX_LISTED_ERRORS]:
        LOGGER.warning("%s", finding)
    if len(found) > MAX_LISTED_ERRORS:
        LOGGER.warning(
            "... and %d more data warnings (`sagegan check` lists them all)",
            len(found) - MAX_LISTED_ERRORS,
        )
