"""A synthetic bank (``data.bank``): a folder of image/mask pairs that training also cuts patches
from, made by ``sagegan generate`` or ``sagegan synth`` (or any dataset layout of
`sagegan.data.pairing`).

Bank pairs are only ever training samples. `open_bank` refuses, before any image is read, a bank
that could carry a held-out image into training: a bank that is the dataset folder, lies inside it
or holds it; a pair whose stem is a validation or test stem; a ``sagegan generate`` manifest
(``meta.json``) naming a validation or test mask among the masks it rendered (re-arranged masks
are cut from those same masks, so they are covered too).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagegan.data.dataset import Sample, load_sample
from sagegan.data.pairing import Pair, find_pairs, mask_image_stems
from sagegan.errors import MAX_LISTED_ERRORS, DataError, listing

OPTION = "data.bank"
MANIFEST = "meta.json"
STEM_PREFIX = "bank:"


@dataclass(frozen=True)
class Bank:
    """A checked bank folder, its pairs (instance labels from ``labels/`` when it has one) and,
    for a ``sagegan generate`` bank, the model its manifest names (None otherwise)."""

    folder: Path
    pairs: list[Pair]
    generator: Path | None = None

    def record(self) -> dict[str, Any]:
        """What a run records about its bank: the folder (absolute) and its pair count."""
        return {"folder": str(self.folder.resolve()), "pairs": len(self.pairs)}

    def load(self) -> list[Sample]:
        """Every pair as a training sample (databar detected, stem marked ``bank:``); all
        unreadable pairs are reported in one DataError naming the bank."""
        samples, errors = [], []
        for pair in self.pairs:
            try:
                sample = load_sample(pair, databar="auto")
            except DataError as err:
                errors.append(str(err))
                continue
            samples.append(dataclasses.replace(sample, stem=f"{STEM_PREFIX}{sample.stem}"))
        if errors:
            listed = listing(errors, MAX_LISTED_ERRORS, "; ")
            raise DataError(
                self.folder, f"{OPTION}: {len(errors)} pair(s) cannot be used: {listed}"
            )
        return samples


def open_bank(folder: str | Path, data_dir: str | Path, held_out: Iterable[str]) -> Bank:
    """The bank ``folder`` of a run on ``data_dir`` whose validation and test stems are
    ``held_out``; a DataError naming ``data.bank`` and the folder when it is missing, holds no
    pair or could carry a held-out image (module docstring)."""
    bank = Path(folder)
    if not bank.is_dir():
        raise DataError(bank, f"{OPTION}: bank folder not found")
    _check_apart(bank, Path(data_dir))
    mask_dir = "labels" if (bank / "images").is_dir() and (bank / "labels").is_dir() else None
    try:
        pairs = find_pairs(bank, mask_dir=mask_dir)
    except DataError as err:
        raise DataError(err.path, f"{OPTION}: {err.problem}") from None
    held = frozenset(held_out)
    leaked = sorted(pair.stem for pair in pairs if pair.stem in held)
    if leaked:
        raise DataError(
            bank,
            f"{OPTION}: pair {leaked[0]!r} has the name of a validation or test image; "
            "a bank may hold training images only",
        )
    _check_links(bank, pairs, Path(data_dir))
    generator = _check_manifest(bank, held)
    return Bank(bank, pairs, generator)


def _check_links(bank: Path, pairs: list[Pair], data_dir: Path) -> None:
    """No bank file may be a link to a file of the dataset folder."""
    data_path = data_dir.resolve()
    for pair in pairs:
        for path in (pair.image, pair.mask):
            if path is not None and path.resolve().is_relative_to(data_path):
                raise DataError(
                    path,
                    f"{OPTION}: links to {path.resolve()} in the dataset folder; a bank holds "
                    "synthetic pairs of its own",
                )


def _check_apart(bank: Path, data_dir: Path) -> None:
    """Neither folder may lie inside the other (or be the other)."""
    bank_path, data_path = bank.resolve(), data_dir.resolve()
    if bank_path == data_path:
        where = "is the dataset folder"
    elif bank_path.is_relative_to(data_path):
        where = f"is inside the dataset folder {data_dir}"
    elif data_path.is_relative_to(bank_path):
        where = f"holds the dataset folder {data_dir}"
    else:
        return
    raise DataError(
        bank, f"{OPTION}: the bank {where}; keep synthetic pairs in a folder of their own"
    )


def _check_manifest(bank: Path, held: frozenset[str]) -> Path | None:
    """A ``sagegan generate`` manifest's rendered mask files ("file" source) must all be
    training masks; returns the model the manifest names (None without one)."""
    path = bank / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(
            path, f"{OPTION}: the bank's manifest is not readable JSON ({err})"
        ) from None
    entries = manifest.get("pairs", []) if isinstance(manifest, dict) else []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("source") != "file":
            continue
        mask = str(entry.get("mask"))
        if held.intersection(mask_image_stems(mask)):
            raise DataError(
                path,
                f"{OPTION}: pair {entry.get('name')!r} was generated from the mask {mask!r} of a "
                "validation or test image; generate the bank from the training masks only",
            )
    model = manifest.get("model") if isinstance(manifest, dict) else None
    return Path(str(model)) if model else None
