"""Checks and conversions of the arrays handed to the metrics (errors name the array)."""

from __future__ import annotations

import numpy as np

from sagegan.errors import DataError


def as_binary_mask(array: np.ndarray, what: str = "mask") -> np.ndarray:
    """Boolean foreground of a mask: bool as is, integers non-zero, floats only if 0/1."""
    data = np.asarray(array)
    if data.dtype == bool:
        return data
    if data.dtype.kind in "iu":
        return data != 0
    if data.dtype.kind == "f":
        if not np.all((data == 0) | (data == 1)):
            raise DataError(
                None,
                f"{what}: expected a binary mask, got floating-point values other than 0 and 1 "
                "(threshold probabilities first)",
            )
        return data != 0
    raise DataError(None, f"{what}: expected a binary mask or label image, got dtype {data.dtype}")


def check_same_shape(first: np.ndarray, second: np.ndarray, names: tuple[str, str]) -> None:
    """Raise DataError when two arrays that are compared pixel by pixel differ in shape."""
    if np.shape(first) != np.shape(second):
        raise DataError(
            None,
            f"{names[0]} shape {np.shape(first)} differs from {names[1]} shape {np.shape(second)}",
        )
