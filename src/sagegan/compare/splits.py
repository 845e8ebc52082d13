"""One split for a whole comparison, and nested training subsets of its training part.

The base split (``OUT/split.json``) is made once, seeded, or copied from a given split file; its
validation and test parts are shared by every run. A training size k keeps the first k stems of a
seeded permutation of the training part, so smaller subsets are nested in larger ones, and is
written as its own split file (``OUT/splits/n<k>.json``) with the same validation and test parts.
Given sample groups, the permutation takes the groups in turn, so a scarce subset holds one image
of as many groups (samples, sessions) as it has images instead of whatever a draw happens to hit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from sagegan.data.pairing import find_pairs
from sagegan.data.splits import Split, load_split, make_split, save_split
from sagegan.errors import ConfigError, DataError
from sagegan.models.run_folder import SPLIT_FILE

SPLIT_SEED = 0
ALL = "all"


def base_split(
    out: Path,
    data_dir: Path,
    split_file: Path | None,
    val_fraction: float,
    test_fraction: float,
) -> tuple[Path, Split]:
    """The comparison's split at ``out/split.json``: reloaded when present, else made with
    ``SPLIT_SEED`` (or copied from ``split_file``). A different given split is a ConfigError."""
    path = out / SPLIT_FILE  # named as a run's own split file
    if split_file is not None:
        given = load_split(split_file)
        if path.is_file() and load_split(path).to_dict() != given.to_dict():
            raise ConfigError(f"{path}: this comparison used another split than {split_file}")
        split = given
    elif path.is_file():
        split = load_split(path)
    else:
        stems = [pair.stem for pair in find_pairs(data_dir)]
        split = make_split(stems, SPLIT_SEED, val_fraction, test_fraction)
    if not split.train or not split.val or not split.test:
        raise DataError(path, "a comparison needs training, validation and test images")
    if not path.is_file():
        save_split(split, path)
    return path, split


def _hashed(names: Sequence[str], seed: int) -> list[str]:
    return sorted(names, key=lambda s: hashlib.sha256(f"subset:{seed}:{s}".encode()).hexdigest())


def subset_order(
    stems: Sequence[str], seed: int, group_of: Mapping[str, str] | None = None
) -> list[str]:
    """A seeded permutation of ``stems`` that depends only on the names and the seed. With
    ``group_of`` (stem -> group) it is stratified: round by round, one stem of each group that
    has stems left, the groups and each group's stems in seeded order."""
    if group_of is None:
        return _hashed(stems, seed)
    members: dict[str, list[str]] = {}
    for stem in _hashed(stems, seed):
        members.setdefault(group_of[stem], []).append(stem)
    queues = [members[group] for group in _hashed(list(members), seed)]
    rounds = max(len(queue) for queue in queues) if queues else 0
    return [queue[i] for i in range(rounds) for queue in queues if i < len(queue)]


def resolve_sizes(train_sizes: Sequence[int | str], n_train: int) -> list[int]:
    """Training sizes as image counts ("all" = every training image), each from 1 to ``n_train``
    and none twice."""
    if not train_sizes:
        raise ConfigError("no training size given (e.g. train_sizes=(10, 'all'))")
    sizes = []
    for size in train_sizes:
        if size == ALL:
            count = n_train
        elif isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= n_train:
            count = size
        else:
            raise ConfigError(
                f"training size {size!r} must be 'all' or an integer from 1 to {n_train} "
                "(the training images of the split)"
            )
        if count in sizes:
            raise ConfigError(f"training size {size!r} repeats {count} training images")
        sizes.append(count)
    return sizes


def subset_split(
    split: Split, size: int, folder: Path, group_of: Mapping[str, str] | None = None
) -> Path:
    """Write (or reuse) the split file of training size ``size`` (stratified by ``group_of``
    when given) and return its path."""
    chosen = sorted(subset_order(split.train, split.seed, group_of)[:size])
    subset = replace(split, train=chosen)
    path = folder / f"n{size}.json"
    if path.is_file():
        if load_split(path).to_dict() != subset.to_dict():
            raise DataError(path, "does not match the comparison's split; use a new output folder")
        return path
    save_split(subset, path)
    return path
