"""Reproducible train/validation/test splits of a dataset's stems, saved as JSON.

The order of stems is a seeded permutation that depends only on the stem names and the seed (each
stem is ranked by the SHA-256 of ``"<seed>:<stem>"``), not on input order, the file system or the
numpy version. The test part is for final evaluation only: never train on it, select checkpoints
or tune anything with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sagegan.errors import ConfigError, DataError, listing

SPLIT_FORMAT = "sagegan-split"
SPLIT_VERSION = 1


class SplitWarning(UserWarning):
    """A saved split and the dataset disagree in a way that does not stop the run."""


@dataclass
class Split:
    """Stems per part. `test` is for final evaluation only (never for training or selection)."""

    train: list[str]
    val: list[str]
    test: list[str]
    seed: int
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    fold: int | None = None
    n_folds: int | None = None

    @property
    def stems(self) -> list[str]:
        """All stems of the split, sorted."""
        return sorted(self.train + self.val + self.test)

    def to_dict(self) -> dict:
        """JSON-ready dict with the file format name and version."""
        return {"format": SPLIT_FORMAT, "version": SPLIT_VERSION, **asdict(self)}


def _ordered(stems: Sequence[str], seed: int) -> list[str]:
    unique = sorted(set(stems))
    if len(unique) != len(stems):
        raise ConfigError("stems must be unique to be split")
    return sorted(unique, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())


def _count(n: int, fraction: float) -> int:
    """Images for a part: round(n * fraction), at least 1 when the fraction is > 0 and n >= 3."""
    count = round(n * fraction)
    return max(count, 1) if fraction > 0 and n >= 3 else count


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(
            f"split fractions must be >= 0 with val + test < 1, got val={val_fraction}, "
            f"test={test_fraction}"
        )


def make_split(
    stems: Sequence[str], seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> Split:
    """Split stems into train/val/test by a seeded permutation (at least one val image when there
    are >= 3 stems and val_fraction > 0). The test part is for final evaluation only."""
    _check_fractions(val_fraction, test_fraction)
    order = _ordered(stems, seed)
    n_test = _count(len(order), test_fraction)
    n_val = _count(len(order), val_fraction)
    if len(order) - n_test - n_val < 1:
        raise ConfigError(
            f"{len(order)} images are too few for val={val_fraction} and test={test_fraction}"
        )
    return Split(
        train=sorted(order[n_test + n_val :]),
        val=sorted(order[n_test : n_test + n_val]),
        test=sorted(order[:n_test]),
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
    )


def groups_from_pattern(stems: Sequence[str], pattern: str) -> dict[str, str]:
    """Each stem's group: the first capture group (else the whole match) of the regular
    expression ``pattern`` searched in the stem, e.g. ``^([a-z]+)_`` groups ``ngc_3`` as ``ngc``.
    A stem the pattern does not match, or a bad pattern, is a ConfigError."""
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise ConfigError(f"bad group pattern {pattern!r}: {err}") from None
    groups = {}
    for stem in stems:
        match = regex.search(stem)
        if match is None:
            raise ConfigError(f"group pattern {pattern!r} does not match the stem {stem!r}")
        groups[stem] = match.group(1) if regex.groups else match.group(0)
    return groups


def make_grouped_split(
    stems: Sequence[str],
    group_of: Mapping[str, str],
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Split:
    """Like `make_split`, but stratified: each group (``group_of[stem]``, e.g. a sample or
    microscope session) is split on its own, so that every group with >= 2 images has at least one
    in test and every group with >= 3 at least one in validation; each keeps a training image."""
    _check_fractions(val_fraction, test_fraction)
    members: dict[str, list[str]] = {}
    for stem in stems:
        members.setdefault(group_of[stem], []).append(stem)
    train: list[str] = []
    val: list[str] = []
    test: list[str] = []
    for group in sorted(members):
        order = _ordered(members[group], seed)
        n = len(order)
        n_test = max(1, round(n * test_fraction)) if n >= 2 and test_fraction > 0 else 0
        n_val = max(1, round(n * val_fraction)) if n >= 3 and val_fraction > 0 else 0
        n_val = min(n_val, n - n_test - 1)
        test += order[:n_test]
        val += order[n_test : n_test + n_val]
        train += order[n_test + n_val :]
    return Split(
        train=sorted(train),
        val=sorted(val),
        test=sorted(test),
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
    )


def kfold_splits(
    stems: Sequence[str], k: int, seed: int = 0, test_fraction: float = 0.15
) -> list[Split]:
    """k splits sharing one test set (the same as `make_split` with this seed and test_fraction);
    the other stems are dealt into k folds and fold i is the validation part of split i."""
    _check_fractions(0.0, test_fraction)
    order = _ordered(stems, seed)
    n_test = _count(len(order), test_fraction)
    rest = order[n_test:]
    if not 2 <= k <= len(rest):
        raise ConfigError(f"k must be between 2 and {len(rest)} (images outside test), got {k}")
    folds = [rest[i::k] for i in range(k)]
    return [
        Split(
            train=sorted(s for j, fold in enumerate(folds) if j != i for s in fold),
            val=sorted(folds[i]),
            test=sorted(order[:n_test]),
            seed=seed,
            val_fraction=len(folds[i]) / len(order),
            test_fraction=test_fraction,
            fold=i,
            n_folds=k,
        )
        for i in range(k)
    ]


def save_split(split: Split, path: str | Path) -> None:
    """Write the split as JSON (atomically: a temporary file of this process renamed into place,
    removed again on failure, so processes writing the same split at once do not collide);
    DataError naming ``path`` when it cannot be written, e.g. when it is a folder."""
    path = Path(path)
    if path.is_dir():
        raise DataError(path, "is a folder: give a split file name, e.g. split.json")
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(split.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(err, OSError):
            raise DataError(path, f"cannot write the split file ({err})") from None
        raise


def _string_list(path: Path, data: dict, key: str) -> list[str]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise DataError(path, f"split part {key!r} must be a list of stems")
    return value


def load_split(path: str | Path) -> Split:
    """Read a split written by `save_split`; a malformed file is a `DataError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(path, "split file not found") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(path, f"cannot read split file ({' '.join(str(exc).split())})") from exc
    if not isinstance(data, dict) or data.get("format") != SPLIT_FORMAT:
        raise DataError(path, f"not a {SPLIT_FORMAT} file")
    if data.get("version") != SPLIT_VERSION:
        raise DataError(path, f"unsupported split version {data.get('version')!r}")
    train, val, test = (_string_list(path, data, key) for key in ("train", "val", "test"))
    everything = train + val + test
    if len(set(everything)) != len(everything):
        raise DataError(path, "a stem appears twice in the split")
    if not isinstance(data.get("seed"), int):
        raise DataError(path, "split seed must be an integer")
    return Split(
        train=train,
        val=val,
        test=test,
        seed=data["seed"],
        val_fraction=float(data.get("val_fraction", 0.0)),
        test_fraction=float(data.get("test_fraction", 0.0)),
        fold=data.get("fold"),
        n_folds=data.get("n_folds"),
    )


def load_or_create_split(
    path: str | Path,
    stems: Sequence[str],
    seed: int = 0,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> Split:
    """Reload the split at `path`, or make and save a new one when the file does not exist.

    A reloaded split wins over the arguments (a warning says when they differ). Split stems missing
    from the dataset are a `DataError`; dataset stems missing from the split are warned about and
    belong to no part.
    """
    path = Path(path)
    if not path.exists():
        split = make_split(stems, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
        save_split(split, path)
        return split
    split = load_split(path)
    dataset = set(stems)
    missing = sorted(set(split.stems) - dataset)
    if missing:
        raise DataError(
            path, f"{len(missing)} split stems are not in the dataset: {listing(missing)}"
        )
    new = sorted(dataset - set(split.stems))
    if new:
        warnings.warn(
            f"{path}: {len(new)} images are not in any part of the split: {listing(new)}",
            SplitWarning,
            stacklevel=2,
        )
    if split.fold is None and (split.seed, split.val_fraction, split.test_fraction) != (
        seed,
        val_fraction,
        test_fraction,
    ):
        warnings.warn(
            f"{path}: using the saved split (seed={split.seed}, val={split.val_fraction}, "
            f"test={split.test_fraction}), not the requested seed={seed}, val={val_fraction}, "
            f"test={test_fraction}",
            SplitWarning,
            stacklevel=2,
        )
    return split
