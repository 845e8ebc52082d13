"""Augmentation keeps image, labels and valid aligned; normalisation and patch sampling."""

from __future__ import annotations

import numpy as np
import pytest

from sagegan.data.augment import AugmentConfig, augment
from sagegan.data.normalize import normalize_image, to_uint8
from sagegan.data.patches import rescale, sample_patch
from sagegan.errors import ConfigError

INTENSITY_OFF = {
    "brightness": 0.0,
    "contrast": 0.0,
    "gamma": 0.0,
    "blur": 0.0,
    "gaussian_noise": 0.0,
    "poisson_noise": 0.0,
    "clahe": 0.0,
}
GEOMETRY_OFF = {"hflip": 0.0, "vflip": 0.0, "rot90": 0.0, "scale": 0.0}


def _blocky_labels(shape=(48, 48), seed=0) -> np.ndarray:
    """Asymmetric 6x6-block pattern of instance ids (0 = background)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 4, (shape[0] // 6, shape[1] // 6))
    return np.kron(blocks, np.ones((6, 6), np.int32)).astype(np.int32)


def _image_of(labels: np.ndarray) -> np.ndarray:
    """A deterministic image from labels: each id has its own grey level in [-1, 1]."""
    return (labels * 0.6 - 0.9).astype(np.float32)


@pytest.mark.parametrize("shape", [(48, 48), (36, 54)])
def test_geometric_ops_keep_image_labels_valid_aligned(shape):
    labels = _blocky_labels(shape)
    image = _image_of(labels)
    cfg = AugmentConfig(**INTENSITY_OFF, hflip=0.5, vflip=0.5, rot90=0.5, scale=0.5)
    rng = np.random.default_rng(7)
    for _ in range(40):
        out_image, out_labels, out_valid = augment(image, labels, None, cfg, rng)
        assert out_image.shape == out_labels.shape == out_valid.shape == shape
        inside = out_valid > 0
        assert inside.mean() > 0.5
        recovered = np.round((out_image + 0.9) / 0.6)
        agree = np.mean(recovered[inside] == out_labels[inside])
        assert agree > 0.9, agree  # a one-sided flip/rotation/zoom would give ~0.3
        assert set(np.unique(out_labels)) <= set(np.unique(labels))


def test_exact_ops_are_exact():
    labels = _blocky_labels()
    image = _image_of(labels)
    cfg = AugmentConfig(**INTENSITY_OFF, hflip=0.5, vflip=0.5, rot90=1.0, scale=0.0)
    rng = np.random.default_rng(3)
    for _ in range(10):
        out_image, out_labels, out_valid = augment(image, labels, None, cfg, rng)
        np.testing.assert_array_equal(out_image, _image_of(out_labels))
        assert np.all(out_valid == 1)


def test_zoom_out_marks_border_invalid_and_background():
    labels = np.ones((40, 40), np.int32)
    cfg = AugmentConfig(**INTENSITY_OFF, **{**GEOMETRY_OFF, "scale": 1.0}, scale_range=(0.6, 0.6))
    _, out_labels, out_valid = augment(
        _image_of(labels), labels, None, cfg, np.random.default_rng(0)
    )
    assert 0.2 < (out_valid == 0).mean() < 0.8
    assert np.all(out_labels[out_valid == 0] == 0) and np.all(out_labels[out_valid > 0] == 1)


@pytest.mark.parametrize("op", list(INTENSITY_OFF))
def test_each_intensity_op_changes_image_only_and_stays_in_range(op):
    labels = _blocky_labels()
    image = np.clip(_image_of(labels) + np.linspace(-0.05, 0.05, 48)[None], -1, 1)
    cfg = AugmentConfig(**{**INTENSITY_OFF, op: 1.0}, **GEOMETRY_OFF)
    out_image, out_labels, _ = augment(image, labels, None, cfg, np.random.default_rng(1))
    assert out_image.dtype == np.float32
    assert not np.allclose(out_image, image)
    assert out_image.min() >= -1.0 and out_image.max() <= 1.0
    np.testing.assert_array_equal(out_labels, labels)


def test_noise_never_wraps_dark_pixels_to_bright():
    image = np.full((64, 64), -1.0, np.float32)
    labels = np.zeros((64, 64), np.int32)
    cfg = AugmentConfig(
        **{**INTENSITY_OFF, "gaussian_noise": 1.0}, **GEOMETRY_OFF, noise_sigma=(0.2, 0.2)
    )
    out_image, _, _ = augment(image, labels, None, cfg, np.random.default_rng(0))
    assert out_image.max() < 0.0 and out_image.min() == -1.0


def test_augment_is_deterministic_for_a_generator_seed():
    labels = _blocky_labels()
    image = _image_of(labels)
    first = augment(image, labels, None, AugmentConfig(), np.random.default_rng(11))
    second = augment(image, labels, None, AugmentConfig(), np.random.default_rng(11))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_config_dict_roundtrip_and_validation():
    cfg = AugmentConfig(hflip=0.1, blur_sigma=(0.5, 2.0))
    data = cfg.to_dict()
    assert data["blur_sigma"] == [0.5, 2.0]
    assert AugmentConfig.from_dict(data) == cfg
    with pytest.raises(ConfigError, match="unknown augment options"):
        AugmentConfig.from_dict({"hflip": 0.5, "elastic": 1.0})
    with pytest.raises(ConfigError, match="probability"):
        AugmentConfig(vflip=1.5)
    with pytest.raises(ConfigError, match="pair"):
        AugmentConfig(gamma_range=(1.5, 0.7))
    with pytest.raises(ConfigError, match="positive"):
        AugmentConfig(scale_range=(0.0, 1.0))


# --- normalisation ----------------------------------------------------------------------------


def test_normalize_maps_percentiles_and_resists_a_hot_pixel():
    rng = np.random.default_rng(0)
    image = rng.normal(100, 10, (64, 64)).astype(np.float32)
    reference = normalize_image(image)
    assert reference.dtype == np.float32
    assert reference.min() == -1.0 and reference.max() == 1.0
    hot = image.copy()
    hot[5, 5] = 1e6
    others = np.ones(image.shape, bool)
    others[5, 5] = False
    assert np.abs(normalize_image(hot) - reference)[others].max() < 0.02
    minmax = normalize_image(hot, 0.0, 100.0)
    assert np.abs(minmax - reference)[others].mean() > 0.5  # what min-max scaling would do


def test_normalize_constant_image_and_bad_percentiles():
    assert np.all(normalize_image(np.full((4, 4), 7.0)) == 0)
    with pytest.raises(ConfigError):
        normalize_image(np.zeros((4, 4)), 50, 10)


def test_to_uint8_clips_instead_of_wrapping():
    values = np.array([-1.5, -1.0, 0.0, 1.0, 1.7], np.float32)
    np.testing.assert_array_equal(to_uint8(values), [0, 0, 128, 255, 255])


# --- patches ----------------------------------------------------------------------------------


def test_patch_is_a_native_resolution_crop():
    labels = _blocky_labels((60, 80))
    image = _image_of(labels)
    patch, patch_labels, valid = sample_patch(image, labels, (24, 32), np.random.default_rng(0))
    assert patch.shape == (24, 32) and np.all(valid == 1)
    matches = [
        (y, x)
        for y in range(60 - 24 + 1)
        for x in range(80 - 32 + 1)
        if np.array_equal(image[y : y + 24, x : x + 32], patch)
    ]
    assert matches
    y, x = matches[0]
    np.testing.assert_array_equal(labels[y : y + 24, x : x + 32], patch_labels)


def test_small_image_is_reflect_padded_with_invalid_background():
    image = np.arange(20, dtype=np.float32).reshape(4, 5)
    labels = np.ones((4, 5), np.int32)
    patch, patch_labels, valid = sample_patch(image, labels, (8, 9), np.random.default_rng(2))
    assert patch.shape == (8, 9) and valid.sum() == 20
    assert np.all(patch_labels[valid == 0] == 0) and np.all(patch_labels[valid == 1] == 1)
    assert set(np.unique(patch)) <= set(image.ravel())  # padding is reflected content


def test_foreground_bias_centres_on_particles():
    labels = np.zeros((200, 200), np.int32)
    labels[150:154, 20:24] = 1
    image = _image_of(labels)
    rng = np.random.default_rng(0)
    hits = [
        sample_patch(image, labels, (32, 32), rng, foreground_bias=1.0)[1].any() for _ in range(20)
    ]
    assert all(hits)
    unbiased = [sample_patch(image, labels, (32, 32), rng)[1].any() for _ in range(50)]
    assert sum(unbiased) < 25


def test_rescale_area_average_and_nearest_labels():
    image = np.array([[0, 2, 4, 6], [2, 4, 6, 8]], np.float32)
    labels = np.array([[1, 1, 0, 2], [1, 1, 0, 2]], np.int32)
    small, small_labels = rescale(image, labels, 2)
    np.testing.assert_allclose(small, [[2.0, 6.0]])
    assert small_labels.shape == (1, 2) and small_labels[0, 0] == 1
    odd, _ = rescale(np.ones((10, 7), np.float32), np.zeros((10, 7), np.int32), 1.5)
    assert odd.shape == (7, 5) and np.allclose(odd, 1.0)
    with pytest.raises(ConfigError):
        rescale(image, labels, 0.5)


def test_inversion_negates_the_image_only_and_is_off_by_default():
    labels = _blocky_labels()
    image = _image_of(labels)
    inverted, out_labels, _ = augment(
        image,
        labels,
        None,
        AugmentConfig(**INTENSITY_OFF, **GEOMETRY_OFF, invert=1.0),
        np.random.default_rng(0),
    )
    np.testing.assert_array_equal(inverted, -image)
    np.testing.assert_array_equal(out_labels, labels)
    assert AugmentConfig().invert == 0.0
    with pytest.raises(ConfigError, match="invert"):
        AugmentConfig(invert=1.5)


def test_from_dict_checks_types_and_names_the_key():
    cfg = AugmentConfig.from_dict({"hflip": 1, "scale_range": [1, 2]})
    assert cfg == AugmentConfig(hflip=1.0, scale_range=(1.0, 2.0))
    assert isinstance(cfg.hflip, float) and cfg.to_dict()["scale_range"] == [1.0, 2.0]
    with pytest.raises(ConfigError, match=r"^hflip: 'x' is not a valid float$"):
        AugmentConfig.from_dict({"hflip": "x"})
    with pytest.raises(ConfigError, match=r"^blur_sigma: \[1\] is not a valid tuple"):
        AugmentConfig.from_dict({"blur_sigma": [1]})
