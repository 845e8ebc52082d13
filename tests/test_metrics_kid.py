"""KID on the builtin encoder's features: the unbiased estimator, patch sampling, and that the
realism measure separates images of one style from shuffled pixels and from another style."""

from __future__ import annotations

import numpy as np
import pytest

from sagegan.data.dataset import load_sample
from sagegan.data.normalize import normalize_image
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import make_split
from sagegan.metrics.kid import (
    RealismFeatures,
    kernel_inception_distance,
    random_patches,
    realism_scores,
)
from sagegan.synth import SimulatorConfig, simulate

KEYS = {"kid", "kid_std", "intensity_w1", "histogram_intersection", "spectrum_log_l2"}
PATCHES = 32  # per set: half the default, to keep the tests fast


@pytest.fixture(scope="module")
def features() -> RealismFeatures:
    return RealismFeatures()


def _direct_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 of Binkowski et al. (2018), term by term."""
    d = x.shape[1]

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(a @ b) / d + 1.0) ** 3

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2.0 * xy


def test_kid_is_the_unbiased_mmd_of_polynomial_kernels() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 5)), rng.normal(0.3, 1.2, size=(7, 5))
    # subsets as large as both sets hold every sample: one exact estimate, whatever the order
    kid, spread = kernel_inception_distance(x, y, subset_size=100, subsets=3)
    assert kid == pytest.approx(_direct_mmd2(x, y), rel=1e-12)
    assert spread == pytest.approx(0.0, abs=1e-12)
    # smaller subsets: the mean of estimates on different subsets, which then differ
    kid, spread = kernel_inception_distance(x, y, subset_size=4, subsets=10, seed=1)
    assert spread > 0
    assert kernel_inception_distance(x, y, subset_size=4, subsets=10, seed=1) == (kid, spread)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    same, _ = kernel_inception_distance(first, second)
    shifted, _ = kernel_inception_distance(first, second + 0.5)
    further, _ = kernel_inception_distance(first, second + 1.0)
    assert abs(same) < 0.05 * shifted
    assert further > 2 * shifted


def test_kid_refuses_mismatched_or_too_small_sets() -> None:
    with pytest.raises(ValueError, match=r"\[n, d\]"):
        kernel_inception_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((4, 3)))


def test_patches_are_spread_over_the_images_and_small_images_padded() -> None:
    images = [np.full((40, 50), 0.5), np.full((8, 6), -0.5), np.full((64, 64), 0.0)]
    patches = random_patches(images, 16, 7, np.random.default_rng(0))
    assert patches.shape == (7, 16, 16) and patches.dtype == np.float32
    assert [float(p.mean()) for p in patches] == [0.5, -0.5, 0.0, 0.5, -0.5, 0.0, 0.5]
    ramp = np.arange(100, dtype=np.float32).reshape(10, 10)
    first = random_patches([ramp], 6, 20, np.random.default_rng(3))
    again = random_patches([ramp], 6, 20, np.random.default_rng(3))
    assert np.array_equal(first, again)
    assert len({p[0, 0] for p in first}) > 1  # random positions
    for patch in first:  # each a window of the image
        top, left = divmod(int(patch[0, 0]), 10)
        assert np.array_equal(patch, ramp[top : top + 6, left : left + 6])


def test_features_are_one_row_per_image(features: RealismFeatures) -> None:
    images = np.random.default_rng(0).uniform(-1, 1, (3, 64, 80)).astype(np.float32)
    values = features(images)
    assert values.shape[0] == 3 and values.dtype == np.float64 and values.shape[1] > 100
    assert np.isfinite(values).all()
    assert np.allclose(features(images[1:2]), values[1:2], atol=1e-5)


def _simulated(style: str, seeds: range, size: tuple[int, int] = (256, 256)) -> list[np.ndarray]:
    """Simulated images normalised to [-1, 1] as the training data loader does."""
    config = SimulatorConfig.preset(style, size=size)
    return [normalize_image(simulate(seed=seed, config=config).image) for seed in seeds]


def _shuffled(images: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """The same pixels in random places: intensities kept, every structure gone."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(image.ravel()).reshape(image.shape) for image in images]


def test_realism_separates_a_style_from_shuffled_pixels_and_another_style(
    features: RealismFeatures,
) -> None:
    first, second = _simulated("pdc", range(0, 4)), _simulated("pdc", range(100, 104))
    other_style = _simulated("tio2", range(200, 204))
    same = realism_scores(first, second, features, patches=PATCHES)
    shuffled = realism_scores(first, _shuffled(second), features, patches=PATCHES)
    other = realism_scores(first, other_style, features, patches=PATCHES)
    assert set(same) == set(shuffled) == set(other) == KEYS
    assert same["kid"] + 2 * same["kid_std"] < shuffled["kid"]
    assert same["kid"] + 2 * same["kid_std"] < other["kid"]
    # shuffling keeps the intensities but not the spectrum; the other style changes both
    assert same["spectrum_log_l2"] < shuffled["spectrum_log_l2"]
    assert same["intensity_w1"] < other["intensity_w1"]


def test_realism_scores_repeat_for_a_seed(features: RealismFeatures) -> None:
    first, second = (
        _simulated("pdc", range(2), size=(96, 96)),
        _simulated("pdc", range(5, 7), size=(96, 96)),
    )
    scores = realism_scores(first, second, features, patch_px=64, patches=8)
    assert realism_scores(first, second, features, patch_px=64, patches=8) == scores
    assert realism_scores(first, second, features, patch_px=64, patches=8, seed=1) != scores


@pytest.mark.parametrize("dataset", ["tio2_sem", "pdc_sem"])
def test_real_micrographs_are_closer_to_each_other_than_to_their_shuffled_pixels(
    dataset: str, features: RealismFeatures, request: pytest.FixtureRequest
) -> None:
    pairs = {pair.stem: pair for pair in find_pairs(request.getfixturevalue(dataset))}
    split = make_split(sorted(pairs), seed=0)
    train = [load_sample(pairs[stem]).image for stem in split.train[:4]]
    held_out = [load_sample(pairs[stem]).image for stem in (split.val + split.test)[:4]]
    same = realism_scores(train, held_out, features, patches=PATCHES)
    shuffled = realism_scores(train, _shuffled(held_out), features, patches=PATCHES)
    assert same["kid"] + 2 * same["kid_std"] < shuffled["kid"]
