"""Detecting and cropping the instrument information bar at the bottom of SEM images.

An info bar (Zeiss, FEI/Thermo, JEOL, Hitachi) is a band of rows at the bottom whose pixels mostly
share one background value (near-constant rows), with a few text or scale-bar pixels of strong
contrast, below a sharp horizontal edge. `detect_databar` finds such a band at the bottom:

1. A row is *bar-like* when at least `MIN_FLAT_SHARE` of its pixels lie within `tolerance` of the
   row median, and that median equals the band's background value (within `tolerance`).
   `tolerance` is 1 % of the image's intensity range.
2. Up to `MAX_TRAILING_ROWS` (or 1 % of the height) rows of other content under the band are part of
   the cut (Zeiss leaves two image rows under its bar); runs of up to `MAX_GAP_ROWS` rows inside
   the band may fail the test (large text); up to `MAX_BORDER_ROWS` near-constant rows of another
   value on top of it (a border line) belong to it.
3. The band is accepted when it is at least `MIN_BAR_ROWS` rows (and 2 % of the height) tall, at
   most 40 % of the height, holds text (pixels differing from the background by more than a
   quarter of the intensity range in at least `MIN_TEXT_ROWS` rows; a plain uniform band such as
   padding is not a bar) and starts with a sharp edge: in the `EDGE_ROWS` rows above it (skipping
   the one right above, which may be blended) at most `MAX_EDGE_SHARE` of the pixels have the
   bar's background value. A flat image background (bright TEM film, dark substrate) continues
   above its particles and fails this test.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from sagegan.errors import ConfigError

MIN_FLAT_SHARE = 0.6
CONSTANT_SHARE = 0.95
MAX_TRAILING_ROWS = 4
MAX_GAP_ROWS = 3
MAX_BORDER_ROWS = 3
MIN_BAR_ROWS = 8
MIN_TEXT_ROWS = 3
MIN_BAR_SHARE = 0.02
MAX_BAR_SHARE = 0.4
TOLERANCE_SHARE = 0.01
TEXT_CONTRAST_SHARE = 0.25
EDGE_ROWS = 4
MAX_EDGE_SHARE = 0.2
MAX_MASK_SPILL_SHARE = 0.05

DatabarMode = Literal["auto", "none"] | int


class DatabarWarning(UserWarning):
    """An automatically detected databar was not used."""


def _band_top(is_bar: np.ndarray, constant: np.ndarray, bottom: int) -> int:
    """Top row of the band of bar-like rows that ends at `bottom`, allowing short gaps inside it
    and a thin near-constant border on top."""
    top, gap = bottom, 0
    for row in range(bottom - 1, -1, -1):
        if is_bar[row]:
            top, gap = row, 0
        else:
            gap += 1
            if gap > MAX_GAP_ROWS:
                break
    border = 0
    while border < MAX_BORDER_ROWS and top > 0 and constant[top - 1] and not is_bar[top - 1]:
        top -= 1
        border += 1
    return top


def detect_databar(image: np.ndarray) -> int:
    """Number of bottom rows that form an instrument information bar (0 when there is none)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    height = image.shape[0]
    search = int(height * MAX_BAR_SHARE)
    low, high = float(image.min(initial=0.0)), float(image.max(initial=0.0))
    if search < MIN_BAR_ROWS or high <= low:
        return 0
    tolerance = TOLERANCE_SHARE * (high - low)
    rows = image[height - search :]
    medians = np.median(rows, axis=1)
    flat_share = np.mean(np.abs(rows - medians[:, None]) <= tolerance, axis=1)
    constant = flat_share >= CONSTANT_SHARE
    min_rows = max(MIN_BAR_ROWS, int(np.ceil(MIN_BAR_SHARE * height)))
    trailing = max(MAX_TRAILING_ROWS, height // 100)
    for bottom in range(search - 1, search - 1 - trailing, -1):
        if flat_share[bottom] < MIN_FLAT_SHARE:
            continue
        background = medians[bottom]
        is_bar = (flat_share >= MIN_FLAT_SHARE) & (np.abs(medians - background) <= tolerance)
        top = _band_top(is_bar, constant, bottom)
        if top < EDGE_ROWS + 1 or bottom + 1 - top < min_rows:
            continue
        above = rows[top - 1 - EDGE_ROWS : top - 1]
        if np.mean(np.abs(above - background) <= tolerance) > MAX_EDGE_SHARE:
            continue
        contrast = np.abs(rows[top : bottom + 1] - background) > TEXT_CONTRAST_SHARE * (high - low)
        if np.count_nonzero(np.any(contrast, axis=1)) >= MIN_TEXT_ROWS:
            return search - top
    return 0


def crop_databar(image: np.ndarray, rows: int) -> np.ndarray:
    """Drop the bottom `rows` rows (no copy); `rows` = 0 returns the image unchanged."""
    if rows < 0 or rows >= image.shape[0]:
        raise ValueError(f"cannot crop {rows} rows from an image of height {image.shape[0]}")
    return image[: image.shape[0] - rows] if rows else image


def resolve_databar_rows(
    image: np.ndarray, mode: DatabarMode, labels: np.ndarray | None = None, name: str = "image"
) -> int:
    """Rows to crop for a databar option: "auto" detects, "none" keeps all, an int is explicit.

    In "auto" mode a detected bar is checked against `labels`: when more than
    `MAX_MASK_SPILL_SHARE` of its pixels are foreground it is not trusted (nothing is cropped);
    a smaller spill (annotations drawn a few rows into the bar) is cropped. Both cases issue a
    `DatabarWarning` naming `name`.
    """
    if isinstance(mode, bool):
        raise ConfigError(f"databar mode must be 'auto', 'none' or a row count, got {mode!r}")
    if isinstance(mode, (int, np.integer)):
        if not 0 <= mode < image.shape[0]:
            raise ConfigError(
                f"databar rows {mode} out of range for an image of height {image.shape[0]}"
            )
        return int(mode)
    if mode == "none":
        return 0
    if mode != "auto":
        raise ConfigError(f"databar mode must be 'auto', 'none' or a row count, got {mode!r}")
    rows = detect_databar(image)
    if not rows or labels is None:
        return rows
    spill = int(np.count_nonzero(labels[image.shape[0] - rows :]))
    if spill == 0:
        return rows
    if spill > MAX_MASK_SPILL_SHARE * rows * image.shape[1]:
        warnings.warn(
            f"{name}: detected a {rows}-row databar but the mask has {spill} particle pixels "
            "there; not cropping",
            DatabarWarning,
            stacklevel=2,
        )
        return 0
    warnings.warn(
        f"{name}: cropping a {rows}-row databar removes {spill} mask pixels that spill into it",
        DatabarWarning,
        stacklevel=2,
    )
    return rows
