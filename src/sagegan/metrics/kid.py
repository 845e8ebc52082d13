"""Kernel Inception Distance (KID) of generated against real micrographs, on the features of the
builtin segmenter's encoder: whether a generator's images look real.

KID (Binkowski et al., "Demystifying MMD GANs", ICLR 2018) is the unbiased estimate of the squared
maximum mean discrepancy between two feature sets under the cubic polynomial kernel
``k(x, y) = (x . y / d + 1)^3``, averaged over random subsets. It is 0 in expectation for two
samples of one distribution (an estimate may be slightly negative) and grows as they differ.

Features are not Inception's but those of the builtin generalist segmenter
(``sagegan/models/pretrained/generalist``), trained on SEM and TEM micrographs of nanoparticles:
the spatial standard deviation of every channel of every encoder level, concatenated (368 numbers
for the shipped model). Standard deviation, not Inception's average pooling: behind the encoder's
instance normalisation a channel's mean hardly varies between images, and average-pooled features
ranked the simulator's pdc style closer to its tio2 style than to other pdc images in some draws,
where these separate them several-fold. The normalisation also makes them nearly blind to a
patch's brightness and contrast, which the network-free statistics of `sagegan.metrics.realism`
report beside KID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sagegan.errors import DataError
from sagegan.metrics.realism import ImageStatistics, compare_statistics
from sagegan.models.builtin import builtin_checkpoint
from sagegan.models.checkpoint import load_model
from sagegan.models.encoder_levels import encoder_levels, has_encoder

FEATURE_BATCH = 32
KID_PATCHES = 64  # patches per set in `realism_scores`
SUBSET_FRACTION = 0.5  # realism_scores' KID subsets: half the patches, so that they differ
NETWORK_FREE = ("intensity_w1", "histogram_intersection", "spectrum_log_l2")


class RealismFeatures:
    """Frozen image features for realism: the encoder of the builtin generalist segmenter
    (shipped in the package, sagegan/models/pretrained/generalist, trained on nanoparticle
    micrographs), each level's channels pooled by their spatial standard deviation, concatenated
    (see the module docstring)."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        model, info = load_model(builtin_checkpoint(), map_location=self.device)
        if not has_encoder(model):
            raise DataError(info["path"], "the builtin model has no pooling encoder")
        self.model = model.eval().requires_grad_(False)

    @torch.no_grad()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        """images [N, H, W] float in the networks' intensity space ([-1, 1], as G outputs and as
        the training data loader feeds the segmenter) -> [N, D] float64 features."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 3 or not images.shape[0]:
            raise ValueError(f"expected a non-empty [N, H, W] array, got shape {images.shape}")
        features = []
        for start in range(0, len(images), FEATURE_BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(images[start : start + FEATURE_BATCH]))
            levels = encoder_levels(self.model, batch[:, None].to(self.device))
            pooled = torch.cat([level.std(dim=(2, 3), correction=0) for level in levels], dim=1)
            features.append(pooled.double().cpu().numpy())
        return np.concatenate(features)


def _cubic_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The cubic polynomial kernel matrix ``(x . y / d + 1)^3`` of two feature sets."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two samples (at least two each) under the cubic kernel."""
    n, m = len(x), len(y)
    k_xx, k_yy = _cubic_kernel(x, x), _cubic_kernel(y, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * _cubic_kernel(x, y).mean())


def kernel_inception_distance(
    real: np.ndarray, fake: np.ndarray, subset_size: int = 100, subsets: int = 20, seed: int = 0
) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic polynomial kernel k(x,y) = (x.y/d + 1)^3 between feature sets
    [n, d] and [m, d], averaged over random subsets (size min(subset_size, n, m)); (mean, std)."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected [n, d] and [m, d] features, got {real.shape}, {fake.shape}")
    size = min(subset_size, len(real), len(fake))
    if size < 2 or subsets < 1:
        raise ValueError(f"KID needs subsets of at least 2 samples, got size {size} x {subsets}")
    rng = np.random.default_rng(seed)
    estimates = [
        _unbiased_mmd2(
            real[rng.choice(len(real), size, replace=False)],
            fake[rng.choice(len(fake), size, replace=False)],
        )
        for _ in range(subsets)
    ]
    return float(np.mean(estimates)), float(np.std(estimates))


def reflect_padded(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` reflect-padded at the bottom and right to at least ``size`` x ``size``."""
    pad_rows, pad_cols = max(size - image.shape[0], 0), max(size - image.shape[1], 0)
    if not pad_rows and not pad_cols:
        return image
    return np.pad(image, ((0, pad_rows), (0, pad_cols)), mode="reflect")


def crop_windows(
    shapes: Sequence[tuple[int, ...]], size: int, count: int, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """``count`` random size x size windows (image index, top, left), cycling evenly over images
    of ``shapes``, each image taken as `reflect_padded` to ``size``; two draws (top, left) each."""
    if not shapes:
        raise ValueError("crop windows need at least one image")
    windows = []
    for index in range(count):
        which = index % len(shapes)
        if len(shapes[which]) != 2:
            raise ValueError(f"expected 2-D images, got shape {tuple(shapes[which])}")
        rows, cols = (max(extent, size) for extent in shapes[which])
        top = int(rng.integers(rows - size + 1))
        left = int(rng.integers(cols - size + 1))
        windows.append((which, top, left))
    return windows


def random_patches(
    images: Sequence[np.ndarray], size: int, count: int, rng: np.random.Generator
) -> np.ndarray:
    """count random size x size crops (images smaller than size are reflect-padded), spread evenly
    over the images (`crop_windows`) -> [count, size, size] float32."""
    windows = crop_windows([np.shape(image) for image in images], size, count, rng)
    patches = np.empty((count, size, size), dtype=np.float32)
    for index, (which, top, left) in enumerate(windows):
        image = reflect_padded(np.asarray(images[which], dtype=np.float32), size)
        patches[index] = image[top : top + size, left : left + size]
    return patches


@dataclass(frozen=True)
class RealismReference:
    """The real side of `realism_scores`, drawn once to score many fake sets against: the
    encoder features and network-free statistics of its random patches, the extractor that made
    the features, and the seed of the draw (the fake side's draws and KID's subsets follow it)."""

    features: np.ndarray  # [patches, D]
    statistics: ImageStatistics
    extractor: RealismFeatures
    patch_px: int
    seed: int


def _seeds(seed: int) -> tuple[np.random.SeedSequence, ...]:
    """The streams of one realism measurement: real patches, fake patches, KID subsets."""
    return tuple(np.random.SeedSequence(seed).spawn(3))


def realism_reference(
    real: Sequence[np.ndarray],
    features: RealismFeatures,
    patch_px: int = 128,
    patches: int = KID_PATCHES,
    seed: int = 0,
) -> RealismReference:
    """``patches`` random patches of the real images in [-1, 1], summarised for `scores_against`."""
    real_rng, _, _ = _seeds(seed)
    real_patches = random_patches(real, patch_px, patches, np.random.default_rng(real_rng))
    return RealismReference(
        features(real_patches), ImageStatistics.of(real_patches), features, patch_px, seed
    )


def scores_against(reference: RealismReference, fake: Sequence[np.ndarray]) -> dict[str, float]:
    """`realism_scores` of ``fake`` against the real images ``reference`` was drawn from, with
    as many fake patches as real ones."""
    _, fake_rng, kid_seed = _seeds(reference.seed)
    patches = len(reference.features)
    fake_patches = random_patches(
        fake, reference.patch_px, patches, np.random.default_rng(fake_rng)
    )
    kid, kid_std = kernel_inception_distance(
        reference.features,
        reference.extractor(fake_patches),
        subset_size=max(2, int(patches * SUBSET_FRACTION)),
        seed=int(kid_seed.generate_state(1)[0]),
    )
    statistics = compare_statistics(ImageStatistics.of(fake_patches), reference.statistics)
    return {"kid": kid, "kid_std": kid_std, **{key: statistics[key] for key in NETWORK_FREE}}


def realism_scores(
    real: Sequence[np.ndarray],
    fake: Sequence[np.ndarray],
    features: RealismFeatures,
    patch_px: int = 128,
    patches: int = KID_PATCHES,
    seed: int = 0,
) -> dict[str, float]:
    """KID (and its std over subsets) on patch features plus the network-free statistics of
    metrics/realism.py (intensity_w1, histogram_intersection, spectrum_log_l2) of the same patches:
    keys kid, kid_std, intensity_w1, histogram_intersection, spectrum_log_l2. Both sets are images
    in [-1, 1]; deterministic for a seed. To score many fake sets against one real set, draw the
    real side once with `realism_reference` and score each with `scores_against`.

    KID is averaged over subsets of half the patches each (`SUBSET_FRACTION`); kid_std is its
    spread over those overlapping subsets of one fixed draw, so it understates how much KID would
    move with other patches."""
    reference = realism_reference(real, features, patch_px, patches, seed)
    return scores_against(reference, fake)
