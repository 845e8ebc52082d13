"""Whether an image looks like a model's training images: a cheap out-of-distribution check.

A model segments what resembles its training images; on anything else its masks, and so every
size and count, may be wrong without any sign. Three checks, each giving a reason in words:

- **Encoder features** (the Gram-matrix deviation of Sastry & Oore, ICML 2020, first order): on
  tiles of the image, each encoder level's channel Gram matrix ``F F^T / (h w)`` is compared entry
  by entry with the range ``[low, high]`` seen on the training tiles; the relative amount outside
  it, divided by the mean amount held-out (validation) tiles reach, is the level's deviation; the
  image's score is the mean over levels and tiles (images held out of the others' range score
  about 1). Above the fingerprint's ``threshold`` the image is flagged.
- **Neighbour correlation** of the normalised pixels (1 px apart): micrographs are smooth at the
  pixel scale, noise and corrupted files are not. Flagged outside the training range widened by
  ``CORRELATION_MARGIN``.
- **Pixel size**: a calibrated image whose nm/px is outside the training images' range by more
  than ``PIXEL_SIZE_FACTOR`` shows particles at another size in px than the model learned.

The fingerprint is made after training from the training and validation images, each held out
of the others' range in turn (`build_fingerprint`), stored in each best checkpoint's folder
(`CheckpointFolder.domain_path`) and read by `segment` and `analyze`, which print one line per
flagged image and record the check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sagegan.errors import DataError
from sagegan.models.checkpoint import (
    load_model,
    load_weights,
    representative_weights,
    save_weights,
)
from sagegan.models.encoder_levels import encoder_levels, has_encoder
from sagegan.models.run_folder import CheckpointFolder

META_FIELDS = ("scale", "threshold", "correlation", "pixel_size_nm", "images", "tile_px")
TILE_PX = 256
TILES_PER_IMAGE = 8
THRESHOLD_FLOOR = 3.0
THRESHOLD_FACTOR = 1.5
SCALE_FLOOR = 1e-3
CORRELATION_MARGIN = 0.15
PIXEL_SIZE_FACTOR = 1.5


@dataclass(frozen=True)
class DomainFingerprint:
    """What a model's training images look like to it: per encoder level the range of every Gram
    entry over their tiles and the mean deviation of a held-out image's tiles; the score
    threshold; the range of the neighbour correlation and of the pixel size (None: uncalibrated);
    how many images it was made from and their smallest tile side."""

    low: list[np.ndarray]
    high: list[np.ndarray]
    scale: list[float]
    threshold: float
    correlation: tuple[float, float]
    pixel_size_nm: tuple[float, float] | None
    images: int
    tile_px: int

    def save(self, path: str | Path) -> None:
        """Write the ranges as float32 tensors and the rest as metadata (safetensors)."""
        tensors = {
            f"{bound}_{level}": torch.tensor(values, dtype=torch.float32)
            for bound, ranges in (("low", self.low), ("high", self.high))
            for level, values in enumerate(ranges)
        }
        metadata = {name: getattr(self, name) for name in META_FIELDS}
        save_weights(path, tensors, metadata)

    @classmethod
    def load(cls, path: str | Path) -> DomainFingerprint:
        """Read a fingerprint written by `save` (DataError naming a bad file)."""
        tensors, metadata = load_weights(path)
        levels = len(metadata.get("scale", []))
        try:
            ranges = {
                bound: [tensors[f"{bound}_{level}"].double().numpy() for level in range(levels)]
                for bound in ("low", "high")
            }
            pixel_size = metadata["pixel_size_nm"]
            return cls(
                low=ranges["low"],
                high=ranges["high"],
                scale=[float(value) for value in metadata["scale"]],
                threshold=float(metadata["threshold"]),
                correlation=tuple(metadata["correlation"]),
                pixel_size_nm=None if pixel_size is None else tuple(pixel_size),
                images=int(metadata["images"]),
                tile_px=int(metadata["tile_px"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(path, f"not a domain fingerprint ({err})") from None


@dataclass(frozen=True)
class DomainCheck:
    """One image's check: its feature score against the threshold, its neighbour correlation,
    and the reasons it looks unlike the training images (none: it looks like them)."""

    score: float
    threshold: float
    correlation: float
    reasons: list[str] = field(default_factory=list)

    @property
    def outside(self) -> bool:
        return bool(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """The record for JSON, numbers to 4 decimals (the same whatever the thread count; a
        score not computed is None)."""
        rounded = {
            name: None if math.isnan(value) else round(value, 4)
            for name, value in (("score", self.score), ("correlation", self.correlation))
        }
        return {**asdict(self), **rounded, "outside": self.outside}


def tile_side(image: np.ndarray, tile: int = TILE_PX) -> int:
    """The side of ``image``'s tiles: ``tile``, or its short side when it is smaller."""
    return min(tile, *image.shape)


def image_tiles(image: np.ndarray, tile: int = TILE_PX, count: int = TILES_PER_IMAGE) -> list:
    """Up to ``count`` square tiles of ``image`` spread evenly over a covering grid (of
    `tile_side`)."""
    height, width = image.shape
    side = tile_side(image, tile)
    rows = np.linspace(0, height - side, int(np.ceil(height / side))).round().astype(int)
    cols = np.linspace(0, width - side, int(np.ceil(width / side))).round().astype(int)
    grid = [(top, left) for top in rows for left in cols]
    chosen = sorted(set(np.linspace(0, len(grid) - 1, min(count, len(grid))).round().astype(int)))
    return [image[grid[i][0] : grid[i][0] + side, grid[i][1] : grid[i][1] + side] for i in chosen]


@torch.no_grad()
def gram_features(model: nn.Module, image: np.ndarray) -> list[np.ndarray]:
    """Per encoder level, the upper-triangle Gram entries of each tile of ``image`` (a [-1, 1]
    image): one (tiles x entries) array per level."""
    parameter = next(model.parameters())
    per_level: list[list[np.ndarray]] = []
    for tile in image_tiles(image):
        batch = torch.from_numpy(np.ascontiguousarray(tile, dtype=np.float32))[None, None]
        levels = encoder_levels(model, batch.to(parameter.device, parameter.dtype))
        for level, output in enumerate(levels):
            flat = output[0].flatten(1).double()
            gram = flat @ flat.T / flat.shape[1]
            rows, cols = torch.triu_indices(gram.shape[0], gram.shape[0])
            if level == len(per_level):
                per_level.append([])
            per_level[level].append(gram[rows, cols].cpu().numpy())
    return [np.stack(tiles) for tiles in per_level]


def neighbour_correlation(image: np.ndarray) -> float:
    """Mean Pearson correlation of horizontally and vertically adjacent pixels (0 for a flat
    image)."""
    values = []
    for first, second in ((image[:, :-1], image[:, 1:]), (image[:-1], image[1:])):
        a, b = first.ravel().astype(np.float64), second.ravel().astype(np.float64)
        spread = a.std() * b.std()
        covariance = float(((a - a.mean()) * (b - b.mean())).mean())
        values.append(0.0 if spread == 0 else covariance / spread)
    return float(np.mean(values))


def _deviations(features: list[np.ndarray], low: list, high: list) -> np.ndarray:
    """(tiles x levels) relative amount of each tile's Gram entries outside [low, high]."""
    columns = []
    for values, lo, hi in zip(features, low, high, strict=True):
        lo, hi = np.asarray(lo), np.asarray(hi)
        below = np.maximum(lo - values, 0) / (np.abs(lo) + 1e-6)
        above = np.maximum(values - hi, 0) / (np.abs(hi) + 1e-6)
        columns.append((below + above).sum(axis=1))
    return np.stack(columns, axis=1)


def _score(features: list[np.ndarray], fingerprint: DomainFingerprint) -> float:
    deviations = _deviations(features, fingerprint.low, fingerprint.high)
    return float((deviations / np.asarray(fingerprint.scale)).mean())


def _leave_one_out(per_image: list[np.ndarray], reduce: str) -> np.ndarray:
    """(images x entries) minimum (``reduce`` "min") or maximum of every other image's values,
    from each image's own per-entry extreme ``per_image``, via the two most extreme values."""
    stacked = np.stack(per_image)
    sign = 1.0 if reduce == "min" else -1.0
    two = np.partition(sign * stacked, 1, axis=0)[:2] * sign
    return np.where(stacked == two[0], two[1], two[0])


def _held_out_deviations(features: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Each image's (tiles x levels) deviation from the range of all the other images."""
    levels = len(features[0])
    low = [_leave_one_out([f[i].min(0) for f in features], "min") for i in range(levels)]
    high = [_leave_one_out([f[i].max(0) for f in features], "max") for i in range(levels)]
    return [
        _deviations(f, [lo[n] for lo in low], [hi[n] for hi in high])
        for n, f in enumerate(features)
    ]


def build_fingerprint(
    model: nn.Module, images: Sequence[np.ndarray], pixel_sizes_nm: Sequence[float | None]
) -> DomainFingerprint | None:
    """The fingerprint of ``model`` from its training and validation ``images``: the range of
    every Gram entry over all their tiles; each level's scale and the score threshold from each
    image held out of the others' range (leave-one-out, so that a new image like them scores
    about 1). None when the model has no pooling encoder or fewer than three images are given."""
    if not has_encoder(model) or len(images) < 3:
        return None
    model = model.eval()
    features = [gram_features(model, image) for image in images]
    levels = len(features[0])
    low = [np.min([f[i].min(0) for f in features], axis=0) for i in range(levels)]
    high = [np.max([f[i].max(0) for f in features], axis=0) for i in range(levels)]
    held_out = _held_out_deviations(features)
    scale = np.maximum(np.concatenate(held_out).mean(axis=0), SCALE_FLOOR)
    scores = [float((deviation / scale).mean()) for deviation in held_out]
    correlations = [neighbour_correlation(image) for image in images]
    sizes = [size for size in pixel_sizes_nm if size is not None]
    calibrated = bool(sizes) and len(sizes) == len(pixel_sizes_nm)
    return DomainFingerprint(
        low=low,
        high=high,
        scale=scale.tolist(),
        threshold=max(THRESHOLD_FLOOR, THRESHOLD_FACTOR * float(np.quantile(scores, 0.95))),
        correlation=(min(correlations), max(correlations)),
        pixel_size_nm=(min(sizes), max(sizes)) if calibrated else None,
        images=len(images),
        tile_px=min(tile_side(image) for image in images),
    )


def check_image(
    model: nn.Module,
    fingerprint: DomainFingerprint,
    image: np.ndarray,
    pixel_size_nm: float | None,
) -> DomainCheck:
    """Check one [-1, 1] image (databar cropped) against ``fingerprint``. The encoder features
    of an image smaller than the training tiles are not compared (score NaN): statistics over a
    smaller field of view differ whatever the image shows."""
    comparable = tile_side(image) >= fingerprint.tile_px
    score = _score(gram_features(model.eval(), image), fingerprint) if comparable else math.nan
    correlation = neighbour_correlation(image)
    reasons = []
    if score > fingerprint.threshold:
        limit = fingerprint.threshold
        reasons.append(
            f"encoder features deviate {score:.1f}x as much as held-out images (limit {limit:.1f})"
        )
    low, high = fingerprint.correlation
    if not low - CORRELATION_MARGIN <= correlation <= high + CORRELATION_MARGIN:
        reasons.append(
            f"pixel neighbour correlation {correlation:.2f} (training {low:.2f}-{high:.2f})"
        )
    if pixel_size_nm is not None and fingerprint.pixel_size_nm is not None:
        smallest, largest = fingerprint.pixel_size_nm
        if not smallest / PIXEL_SIZE_FACTOR <= pixel_size_nm <= largest * PIXEL_SIZE_FACTOR:
            reasons.append(
                f"pixel size {pixel_size_nm:.3g} nm (training {smallest:.3g}-{largest:.3g} nm)"
            )
    return DomainCheck(score, fingerprint.threshold, correlation, reasons)


@dataclass
class DomainGuard:
    """A model's fingerprint with its network on the CPU, ready to check images (the
    prediction may run on another backend)."""

    model: nn.Module
    fingerprint: DomainFingerprint

    @classmethod
    def for_weights(cls, weights: str | Path) -> DomainGuard | None:
        """The guard of the segmenter ``weights`` when its checkpoint folder holds a fingerprint;
        None without one (a model trained before the check existed). An ensemble's guard is its
        first member's (its members trained on the same images)."""
        weights = representative_weights(weights)
        path = CheckpointFolder(Path(weights).parent).domain_path()
        if not path.is_file():
            return None
        model, _ = load_model(weights)
        return cls(model, DomainFingerprint.load(path)) if has_encoder(model) else None

    def check(self, image: np.ndarray, pixel_size_nm: float | None) -> DomainCheck:
        return check_image(self.model, self.fingerprint, image, pixel_size_nm)
