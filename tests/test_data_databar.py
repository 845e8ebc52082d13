"""Instrument databar detection on real and hand-made images, cropping and the mode option."""

from __future__ import annotations

import numpy as np
import pytest

from sagegan.data.databar import (
    DatabarWarning,
    crop_databar,
    detect_databar,
    resolve_databar_rows,
)
from sagegan.data.io import read_image
from sagegan.errors import ConfigError

TIO2_BAR_ROWS = 56  # rows 712..765 are the Zeiss bar, 766..767 are two image rows under it


def _sem_like(shape=(256, 320), seed=0) -> np.ndarray:
    """Noisy textured background with bright blobs, no bar."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = 60 + 10 * np.sin(xx / 17.0) + rng.normal(0, 6, shape)
    for _ in range(30):
        cy, cx, r = rng.integers(0, shape[0]), rng.integers(0, shape[1]), rng.integers(4, 12)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = 200
    return np.clip(image, 0, 255).astype(np.float32)


def _with_bar(image: np.ndarray, rows: int, value: float = 0.0, text: float = 255.0) -> np.ndarray:
    """Replace the bottom rows by a flat bar with text-like blocks and a scale bar."""
    out = image.copy()
    bar = out[-rows:]
    bar[:] = value
    for x in range(10, image.shape[1] - 40, 37):
        bar[rows // 4 : rows // 4 + 6, x : x + 7] = text  # ~20 % of a text row, like real bars
    bar[rows // 2 + 4 : rows // 2 + 6, -60:-10] = text
    return out


def test_real_tio2_bar_detected_exactly(tio2_sem):
    paths = sorted((tio2_sem / "images").glob("*.tif"))
    assert len(paths) == 32
    assert {detect_databar(read_image(p)) for p in paths} == {TIO2_BAR_ROWS}


def test_real_pdc_has_no_bar(pdc_sem):
    for path in sorted((pdc_sem / "images").glob("*.png")):
        assert detect_databar(read_image(path)) == 0, path.name


@pytest.mark.parametrize("seed", range(3))
def test_no_bar_on_sem_like_images(seed):
    assert detect_databar(_sem_like(seed=seed)) == 0


@pytest.mark.parametrize(("rows", "value", "text"), [(20, 0.0, 255.0), (33, 255.0, 0.0)])
def test_synthetic_bar_detected_exactly(rows, value, text):
    assert detect_databar(_with_bar(_sem_like(), rows, value, text)) == rows


def test_rows_under_the_bar_are_included():
    image = _with_bar(_sem_like(), 30)
    image[-2:] = _sem_like(seed=5)[-2:]  # image content under the bar, as on Zeiss images
    assert detect_databar(image) == 30


def test_plain_padding_band_is_not_a_bar():
    image = _sem_like()
    image[-25:] = 0.0
    assert detect_databar(image) == 0


def test_flat_background_with_particles_is_not_a_bar():
    """Bright TEM film with dark particles reaching the bottom: flat rows but no sharp edge."""
    image = np.full((200, 200), 250.0, np.float32)
    yy, xx = np.mgrid[:200, :200]
    image[(yy - 170) ** 2 + (xx - 60) ** 2 < 45**2] = 30.0
    image[(yy - 120) ** 2 + (xx - 150) ** 2 < 30**2] = 40.0
    assert detect_databar(image) == 0


def test_constant_image_has_no_bar():
    assert detect_databar(np.zeros((64, 64), np.float32)) == 0


def test_crop_databar():
    image = np.arange(20).reshape(5, 4)
    np.testing.assert_array_equal(crop_databar(image, 2), image[:3])
    assert crop_databar(image, 0) is image
    with pytest.raises(ValueError, match="cannot crop"):
        crop_databar(image, 5)


def test_resolve_modes():
    image = _with_bar(_sem_like(), 20)
    assert resolve_databar_rows(image, "auto") == 20
    assert resolve_databar_rows(image, "none") == 0
    assert resolve_databar_rows(image, 7) == 7
    for bad in ("sometimes", -1, 256, True):
        with pytest.raises(ConfigError):
            resolve_databar_rows(image, bad)


def test_auto_bar_overlapping_many_particles_is_not_cropped():
    image = _with_bar(_sem_like(), 20)
    labels = np.zeros(image.shape, np.int32)
    labels[-20:, :100] = 1
    with pytest.warns(DatabarWarning, match="not cropping"):
        assert resolve_databar_rows(image, "auto", labels, name="x.tif") == 0


def test_auto_bar_with_small_annotation_spill_is_cropped_with_warning():
    image = _with_bar(_sem_like(), 20)
    labels = np.zeros(image.shape, np.int32)
    labels[-22:-18, 50:60] = 3
    with pytest.warns(DatabarWarning, match="removes 20 mask pixels"):
        assert resolve_databar_rows(image, "auto", labels, name="x.tif") == 20
