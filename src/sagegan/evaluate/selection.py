"""Which image/mask pairs an evaluation reads: the stems of one part of a saved split."""

from __future__ import annotations

from pathlib import Path

from sagegan.data.pairing import Pair, find_pairs
from sagegan.data.splits import load_split
from sagegan.errors import ConfigError, DataError, listing

SPLIT_PARTS = ("test", "val", "train", "all")


def split_stems(split: str, split_file: Path | None) -> list[str] | None:
    """Sorted stems of ``split`` in ``split_file``; None for "all" (every pair of the data)."""
    if split not in SPLIT_PARTS:
        raise ConfigError(f"unknown split {split!r} (choose from {', '.join(SPLIT_PARTS)})")
    if split == "all":
        return None
    if split_file is None:
        raise ConfigError(
            f"evaluating the {split!r} split needs a split file: the model has none recorded, "
            "so pass one (or use split 'all')"
        )
    return sorted(getattr(load_split(split_file), split))


def select_pairs(
    data_dir: str | Path,
    split: str,
    split_file: Path | None,
    mask_dir: str | None = None,
) -> list[Pair]:
    """Pairs of ``data_dir`` in ``split``, sorted by stem, each with a mask.

    A split stem without an image in ``data_dir`` is a DataError naming the split file; an image
    of the split without a mask is a DataError naming the image; an empty selection is a
    ConfigError.
    """
    stems = split_stems(split, split_file)
    found = find_pairs(data_dir, require_masks=False, mask_dir=mask_dir)
    pairs = {pair.stem: pair for pair in found}
    if stems is None:
        stems = sorted(pairs)
    missing = [stem for stem in stems if stem not in pairs]
    if missing:
        raise DataError(
            split_file,
            f"{len(missing)} {split} stems have no image in {data_dir}: {listing(missing)}",
        )
    if not stems:
        where = f" of {split_file}" if split_file is not None else ""
        raise ConfigError(f"the {split!r} split{where} is empty: nothing to evaluate")
    selected = [pairs[stem] for stem in stems]
    for pair in selected:
        if pair.mask is None:
            raise DataError(pair.image, f"no mask for this image of the {split!r} split")
    return selected
