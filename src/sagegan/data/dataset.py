"""Loading samples (databar cropped, normalised, calibrated) and the torch Dataset over them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from sagegan.data.augment import AugmentConfig, augment
from sagegan.data.calibration import PixelSize, check_pixel_size, pixel_size_of
from sagegan.data.databar import DatabarMode, crop_databar, resolve_databar_rows
from sagegan.data.io import MaskKind, read_image, read_mask_with_kind
from sagegan.data.normalize import normalize_image
from sagegan.data.pairing import Pair
from sagegan.data.patches import sample_patch
from sagegan.data.separation import HEAD_TARGETS, check_boundary, training_targets
from sagegan.errors import ConfigError, DataError


@dataclass
class Sample:
    """One loaded image: float32 [-1, 1] with the databar cropped, labels cropped alike (int32
    instance ids, None for an image without mask), and its calibration."""

    stem: str
    image: np.ndarray
    labels: np.ndarray | None
    pixel_size: PixelSize | None
    databar_rows: int
    image_path: Path
    mask_path: Path | None
    mask_kind: MaskKind | None = None


def load_sample(
    pair: Pair,
    databar: DatabarMode = "auto",
    pixel_size_nm: float | None = None,
    normalize: tuple[float, float] = (0.5, 99.5),
) -> Sample:
    """Read, crop the databar from, normalise and calibrate one pair.

    `databar` is "auto", "none" or a row count (see `resolve_databar_rows`); `pixel_size_nm`
    overrides the file's metadata; `normalize` are the percentiles mapped to -1/1, computed on
    the cropped image.
    """
    check_pixel_size(pixel_size_nm)
    raw = read_image(pair.image)
    labels, kind = read_mask_with_kind(pair.mask) if pair.mask is not None else (None, None)
    if labels is not None and labels.shape != raw.shape:
        raise DataError(
            pair.image,
            f"image shape {raw.shape} does not match mask {pair.mask} shape {labels.shape}",
        )
    rows = resolve_databar_rows(raw, databar, labels, name=str(pair.image))
    image = normalize_image(crop_databar(raw, rows), *normalize)
    pixel_size = pixel_size_of(pair.image, pixel_size_nm)
    return Sample(
        stem=pair.stem,
        image=image,
        labels=None if labels is None else crop_databar(labels, rows),
        pixel_size=pixel_size,
        databar_rows=rows,
        image_path=pair.image,
        mask_path=pair.mask,
        mask_kind=kind,
    )


def worker_init_fn(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: one torch thread per worker (avoids oversubscription)."""
    del worker_id
    torch.set_num_threads(1)


class SegmentationDataset(Dataset):
    """Patches (training) or whole images (evaluation, `patch_size=None`) of loaded samples.

    Item i of epoch e uses sample i mod len(samples) and the generator
    ``np.random.default_rng([seed, e, i])`` for its crop and augmentation, so results do not
    depend on the number of DataLoader workers and a resumed run reproduces exactly. Call
    `set_epoch` before iterating an epoch (with ``persistent_workers=True`` workers keep the
    epoch their copy had; use non-persistent workers). Items are dicts with
    image (float [1,H,W] in [-1, 1]), mask (float [1,H,W] in {0, 1}), valid (float [1,H,W],
    0 on padding), labels (int64 [1,H,W] instance ids) and stem. Whole images differ in size:
    evaluate them with batch size 1. With ``gap_px`` or ``contact_weight`` (see
    `sagegan.data.separation`) the mask has gaps between touching instances and ``valid`` carries
    the contact weights (still 0 on padding). With ``boundary_px`` > 0 items also hold boundary
    (float [1,H,W] in {0, 1}, `boundary_target` of the instances left in the mask), the target of
    a segmenter's second (instance) channel; with ``centre_map`` also centre (float [1,H,W] in
    [0, 1], `centre_target` of those instances), the target of a third channel.
    """

    def __init__(
        self,
        samples: list[Sample],
        patch_size: tuple[int, int] | int | None = (256, 256),
        augment: AugmentConfig | None = None,
        samples_per_epoch: int | None = None,
        foreground_bias: float = 0.0,
        seed: int = 0,
        gap_px: int = 0,
        contact_weight: float = 1.0,
        boundary_px: int = 0,
        centre_map: bool = False,
    ) -> None:
        check_boundary(boundary_px)
        if not samples:
            raise ConfigError("a dataset needs at least one sample")
        missing = [s.stem for s in samples if s.labels is None]
        if missing:
            raise ConfigError(f"samples without masks cannot be used for training: {missing[:10]}")
        if samples_per_epoch is not None and samples_per_epoch < 1:
            raise ConfigError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
        if isinstance(patch_size, int):
            patch_size = (patch_size, patch_size)
        self.samples = samples
        self.patch_size = patch_size
        self.augment = augment
        self.samples_per_epoch = samples_per_epoch
        self.foreground_bias = foreground_bias
        self.seed = seed
        self.gap_px = gap_px
        self.contact_weight = contact_weight
        self.boundary_px = boundary_px
        self.centre_map = centre_map
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops and augmentations the items use."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.samples_per_epoch or len(self.samples)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return self.item(self.samples[index % len(self.samples)], self.item_rng(index))

    def item_rng(self, index: int) -> np.random.Generator:
        """The generator of item ``index`` in the current epoch (its crop and augmentation)."""
        return np.random.default_rng([self.seed, self.epoch, index])

    def item(self, sample: Sample, rng: np.random.Generator) -> dict[str, torch.Tensor | str]:
        """The item (patch, augmentation, targets) of ``sample`` drawn with ``rng``."""
        image, labels = sample.image, sample.labels
        valid = np.ones(image.shape, np.float32)
        if self.patch_size is not None:
            image, labels, valid = sample_patch(
                image, labels, self.patch_size, rng, self.foreground_bias, valid
            )
        if self.augment is not None:
            image, labels, valid = augment(image, labels, valid, self.augment, rng)
        targets = training_targets(
            labels, self.gap_px, self.contact_weight, self.boundary_px, self.centre_map
        )
        item = {
            "image": torch.from_numpy(np.array(image, dtype=np.float32))[None],
            "mask": torch.from_numpy(targets["mask"])[None],
            "valid": torch.from_numpy(np.array(valid * targets["weights"], dtype=np.float32))[None],
            "labels": torch.from_numpy(labels.astype(np.int64))[None],
            "stem": sample.stem,
        }
        for head in HEAD_TARGETS:
            if head in targets:
                item[head] = torch.from_numpy(targets[head])[None]
        return item
