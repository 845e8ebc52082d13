"""Image and mask readers: formats, conversions, label rules and one-line errors."""

from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from sagegan.data.io import (
    MAX_PIXELS_VARIABLE,
    read_image,
    read_mask,
    read_mask_with_kind,
    read_pair,
)
from sagegan.data.pairing import Pair
from sagegan.errors import DataError

RNG = np.random.default_rng(0)


def _assert_one_line_error(excinfo: pytest.ExceptionInfo, path) -> None:
    message = str(excinfo.value)
    assert str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
def test_8bit_gray_keeps_values(tmp_path, suffix):
    data = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    path = tmp_path / f"a{suffix}"
    Image.fromarray(data).save(path)
    image = read_image(path)
    assert image.dtype == np.float32 and image.shape == (20, 30)
    np.testing.assert_array_equal(image, data)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_gray_keeps_values(tmp_path, suffix):
    data = RNG.integers(0, 65536, (16, 12), dtype=np.uint16)
    path = tmp_path / f"a{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, data)
    else:
        Image.fromarray(data).save(path)
    np.testing.assert_array_equal(read_image(path), data.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint32])
def test_tiff_32bit_and_float(tmp_path, dtype):
    data = (RNG.random((8, 9)) * 1000).astype(dtype)
    path = tmp_path / "a.tif"
    tifffile.imwrite(path, data)
    np.testing.assert_allclose(read_image(path), data.astype(np.float32))


def test_jpeg_reads_gray(tmp_path):
    data = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (32, 1))
    path = tmp_path / "a.jpg"
    Image.fromarray(data).save(path, quality=95)
    assert np.abs(read_image(path) - data).max() < 8


def test_palette_png_goes_through_palette(tmp_path):
    indices = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    img = Image.fromarray(indices, mode="P")
    img.putpalette([10, 10, 10, 200, 200, 200, 255, 0, 0] + [0] * 759)
    path = tmp_path / "p.png"
    img.save(path)
    expected = np.array([[10, 200], [0.299 * 255, 200]], dtype=np.float32)
    np.testing.assert_allclose(read_image(path), expected, atol=1e-3)


def test_palette_tiff_goes_through_palette(tmp_path):
    indices = np.array([[0, 3], [7, 3]], dtype=np.uint8)
    gray = np.arange(256, dtype=np.uint16)[::-1] * 257  # inverted gray palette
    colormap = np.stack([gray, gray, gray])
    path = tmp_path / "p.tif"
    tifffile.imwrite(path, indices, photometric="palette", colormap=colormap)
    np.testing.assert_allclose(read_image(path), 255.0 - indices, atol=1e-3)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_rgb_png_to_luminance_alpha_dropped(tmp_path, mode):
    pixels = np.zeros((2, 2, len(mode)), dtype=np.uint8)
    pixels[0, 0, 0] = 255  # red
    pixels[0, 1, 1] = 255  # green
    pixels[1, 0, 2] = 255  # blue
    pixels[1, 1, :3] = 100
    if mode == "RGBA":
        pixels[..., 3] = 17
    path = tmp_path / "c.png"
    Image.fromarray(pixels, mode=mode).save(path)
    expected = np.array([[0.299 * 255, 0.587 * 255], [0.114 * 255, 100]], dtype=np.float32)
    np.testing.assert_allclose(read_image(path), expected, atol=1e-3)


@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_rgb_tiff_to_luminance(tmp_path, planar):
    rgb = RNG.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    data = rgb if planar == "contig" else np.moveaxis(rgb, -1, 0)
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, data, photometric="rgb", planarconfig=planar)
    expected = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(read_image(path), expected, atol=1e-3)


def test_multipage_tiff_warns_and_uses_first_page(tmp_path):
    stack = np.stack([np.full((5, 5), 3, np.uint8), np.full((5, 5), 9, np.uint8)])
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack, metadata=None)
    with pytest.warns(UserWarning, match="stack.tif.*2 pages"):
        image = read_image(path)
    assert np.all(image == 3)


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.png", b""), ("corrupt.png", b"\x89PNG\r\n\x1a\nnot really"), ("bad.tif", b"II*\x00x")],
)
def test_unreadable_files_raise_one_line(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as excinfo:
        read_image(path)
    _assert_one_line_error(excinfo, path)


def _png_header_bomb(path, width: int, height: int) -> None:
    """A PNG whose header claims ``width x height`` 8-bit gray pixels and has no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


def _tiff_header_bomb(path, width: int, height: int) -> None:
    """A small TIFF whose size tags are rewritten to claim ``width x height`` pixels."""
    tifffile.imwrite(path, np.zeros((16, 16), np.uint8))
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tif.pages[0].tags["ImageWidth"].overwrite(width)
        tif.pages[0].tags["ImageLength"].overwrite(height)


@pytest.mark.parametrize("write_bomb", [_png_header_bomb, _tiff_header_bomb])
def test_header_bomb_is_refused_before_decoding(tmp_path, write_bomb):
    path = tmp_path / ("bomb.png" if write_bomb is _png_header_bomb else "bomb.tif")
    write_bomb(path, 100_000, 100_000)
    with pytest.raises(DataError, match="over the limit of 268,435,456") as excinfo:
        read_image(path)
    _assert_one_line_error(excinfo, path)
    assert MAX_PIXELS_VARIABLE in str(excinfo.value)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_pixel_limit_is_the_same_for_every_format_and_can_be_raised(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"a{suffix}"
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(path)
    monkeypatch.setenv(MAX_PIXELS_VARIABLE, "1999")
    with pytest.raises(DataError, match="50 x 40 = 2,000 pixels, over the limit of 1,999"):
        read_image(path)
    monkeypatch.setenv(MAX_PIXELS_VARIABLE, "2000")
    assert read_image(path).shape == (40, 50)


def test_pillow_bomb_limit_does_not_apply(tmp_path, monkeypatch):
    """Pillow warns from 89 MP and refuses from 179 MP; sagegan's one limit replaces it."""
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would refuse 2,000 px
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(path).shape == (40, 50)
    assert Image.MAX_IMAGE_PIXELS == 100


def test_bad_pixel_limit_setting_is_named(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(path)
    monkeypatch.setenv(MAX_PIXELS_VARIABLE, "lots")
    with pytest.raises(DataError, match=f"{MAX_PIXELS_VARIABLE}: must be a positive integer"):
        read_image(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(DataError) as excinfo:
        read_image(tmp_path / "nope.png")
    _assert_one_line_error(excinfo, tmp_path / "nope.png")


def test_complex_dtype_raises(tmp_path):
    path = tmp_path / "complex.tif"
    tifffile.imwrite(path, np.ones((4, 4), np.complex64))
    with pytest.raises(DataError, match="unsupported pixel type") as excinfo:
        read_image(path)
    _assert_one_line_error(excinfo, path)


def test_volume_is_not_2d(tmp_path):
    path = tmp_path / "volume.tif"
    data = np.ones((3, 16, 16), np.uint8)
    tifffile.imwrite(path, data, photometric="minisblack", volumetric=True, tile=(16, 16))
    with pytest.raises(DataError, match="2-D") as excinfo:
        read_image(path)
    _assert_one_line_error(excinfo, path)


def test_nan_pixels_raise(tmp_path):
    path = tmp_path / "nan.tif"
    data = np.zeros((4, 4), np.float32)
    data[1, 2] = np.nan
    tifffile.imwrite(path, data)
    with pytest.raises(DataError, match="NaN"):
        read_image(path)


# --- masks ------------------------------------------------------------------------------------


def _two_blobs_touching_diagonally() -> np.ndarray:
    mask = np.zeros((8, 8), np.uint8)
    mask[1:3, 1:3] = 1
    mask[3:5, 3:5] = 1  # touches the first only at a corner: separate 4-connected instance
    mask[6, 1:7] = 1
    return mask


@pytest.mark.parametrize("value", [1, 255])
def test_binary_mask_becomes_4_connected_instances(tmp_path, value):
    path = tmp_path / "m.png"
    Image.fromarray(_two_blobs_touching_diagonally() * value).save(path)
    labels, kind = read_mask_with_kind(path)
    assert kind == "binary" and labels.dtype == np.int32
    assert labels.max() == 3
    assert labels[1, 1] != labels[3, 3]
    assert set(np.unique(labels[labels > 0])) == {1, 2, 3}


def test_one_px_gap_splits_particles(tmp_path):
    mask = np.zeros((5, 9), np.uint8)
    mask[1:4, 1:4] = 255
    mask[1:4, 5:8] = 255  # column 4 is the 1-px gap
    path = tmp_path / "gap.tif"
    tifffile.imwrite(path, mask)
    assert read_mask(path).max() == 2


def test_bool_and_palette_masks_are_binary(tmp_path):
    mask = _two_blobs_touching_diagonally().astype(bool)
    bool_path = tmp_path / "b.png"
    Image.fromarray(mask).save(bool_path)
    palette = Image.fromarray(mask.astype(np.uint8), mode="P")
    palette.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)  # index 1 is drawn black
    palette_path = tmp_path / "p.png"
    palette.save(palette_path)
    np.testing.assert_array_equal(read_mask(bool_path) > 0, mask)
    np.testing.assert_array_equal(read_mask(palette_path) > 0, mask)


def test_rgb_mask_any_channel_is_particle(tmp_path):
    mask = np.zeros((6, 6, 3), np.uint8)
    mask[0:2, 0:2, 0] = 200
    mask[4:6, 4:6, 2] = 10
    path = tmp_path / "rgb.png"
    Image.fromarray(mask).save(path)
    labels = read_mask(path)
    assert labels.max() == 2 and labels[0, 0] > 0 and labels[5, 5] > 0 and labels[3, 3] == 0


def test_uint16_label_map_kept_as_is(tmp_path):
    labels = np.zeros((10, 10), np.uint16)
    labels[0:3, 0:3] = 7
    labels[3:6, 0:3] = 300  # touching instance keeps its own id
    labels[7:9, 7:9] = 2
    path = tmp_path / "labels.png"
    Image.fromarray(labels).save(path)
    result, kind = read_mask_with_kind(path)
    assert kind == "instances" and result.dtype == np.int32
    np.testing.assert_array_equal(result, labels)


def test_huge_label_ids_are_renumbered_in_order(tmp_path):
    labels = np.zeros((4, 4), np.uint32)
    labels[0, :2] = 4_000_000_000
    labels[2, :2] = 3_000_000_000
    labels[3, 3] = 5
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, labels)
    result = read_mask(path)
    assert result[3, 3] == 1 and result[2, 0] == 2 and result[0, 0] == 3


def test_8bit_label_map_accepted(tmp_path):
    labels = np.zeros((12, 12), np.uint8)
    labels[0:4, 0:4] = 1
    labels[0:4, 5:9] = 2
    labels[6:10, 0:4] = 3
    path = tmp_path / "l8.png"
    Image.fromarray(labels).save(path)
    np.testing.assert_array_equal(read_mask(path), labels)


def _disc_mask() -> np.ndarray:
    yy, xx = np.mgrid[:64, :64]
    return ((yy - 30) ** 2 + (xx - 33) ** 2 < 15**2).astype(np.uint8) * 255


@pytest.mark.parametrize("damage", ["jpeg", "resized"])
def test_8bit_lossy_binary_mask_rejected(tmp_path, damage):
    if damage == "jpeg":
        path = tmp_path / "lossy.jpg"
        Image.fromarray(_disc_mask()).save(path, quality=75)
    else:
        path = tmp_path / "resized.png"
        Image.fromarray(_disc_mask()).resize((50, 50), Image.BILINEAR).save(path)
    with pytest.raises(DataError, match="losslessly") as excinfo:
        read_mask(path)
    _assert_one_line_error(excinfo, path)


def test_two_values_without_zero_rejected(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.array([[1, 2], [2, 1]], np.uint8)).save(path)
    with pytest.raises(DataError, match="no 0") as excinfo:
        read_mask(path)
    _assert_one_line_error(excinfo, path)


def test_non_integer_float_mask_rejected(tmp_path):
    path = tmp_path / "f.tif"
    tifffile.imwrite(path, np.array([[0.0, 0.5], [1.0, 0.0]], np.float32))
    with pytest.raises(DataError, match="non-integer"):
        read_mask(path)


def test_empty_mask_is_all_background(tmp_path):
    path = tmp_path / "empty.png"
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(path)
    assert read_mask(path).max() == 0


def test_read_pair_size_mismatch_names_both_files(tmp_path):
    image_path, mask_path = tmp_path / "a.png", tmp_path / "a_mask.png"
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(image_path)
    Image.fromarray(np.zeros((10, 11), np.uint8)).save(mask_path)
    with pytest.raises(DataError) as excinfo:
        read_pair(Pair("a", image_path, mask_path))
    message = str(excinfo.value)
    _assert_one_line_error(excinfo, image_path)
    assert str(mask_path) in message and "(10, 12)" in message and "(10, 11)" in message


def test_read_pair_returns_image_and_labels(tmp_path):
    image_path, mask_path = tmp_path / "a.png", tmp_path / "a_mask.png"
    Image.fromarray(np.full((6, 6), 9, np.uint8)).save(image_path)
    Image.fromarray(_two_blobs_touching_diagonally()[:6, :6] * 255).save(mask_path)
    image, labels = read_pair(Pair("a", image_path, mask_path))
    assert image.shape == labels.shape == (6, 6) and labels.max() == 2


def test_real_tio2_palette_image_and_mask(tio2_sem):
    image = read_image(tio2_sem / "images" / "1908248.tif")
    labels, kind = read_mask_with_kind(tio2_sem / "masks" / "1908248.tif")
    assert image.shape == labels.shape == (768, 1024)
    assert image.min() == 0 and image.max() == 255  # gray palette maps index -> same gray level
    assert kind == "binary" and labels.max() > 50


def test_real_emps_uint16_labels(emps):
    path = sorted((emps / "masks").iterdir())[0]
    labels, kind = read_mask_with_kind(path)
    assert kind == "instances"
    raw = np.asarray(Image.open(path))
    np.testing.assert_array_equal(labels, raw)


@pytest.mark.parametrize("write", ["labels", "mask", "probability"])
def test_calibrated_tiffs_carry_the_pixel_size_for_fiji(tmp_path, write):
    from sagegan.data.calibration import read_pixel_size
    from sagegan.data.io import write_image, write_labels, write_mask

    path = tmp_path / f"{write}.tif"
    data = np.arange(12).reshape(3, 4)
    if write == "labels":
        write_labels(path, data, pixel_size_nm=2.5)
    elif write == "mask":
        write_mask(path, data, pixel_size_nm=2.5)
    else:
        write_image(path, data / 12.0, pixel_size_nm=2.5)
    with tifffile.TiffFile(path) as tif:
        assert tif.imagej_metadata["unit"] == "nm"
        x_per_nm = tif.pages[0].tags["XResolution"].value
        assert x_per_nm[1] / x_per_nm[0] == pytest.approx(2.5)
    assert read_pixel_size(path).nm == pytest.approx(2.5)
    assert read_image(path).shape == (3, 4)


def test_labels_beyond_uint16_keep_calibration_in_resolution_tags(tmp_path):
    from sagegan.data.calibration import read_pixel_size
    from sagegan.data.io import write_labels

    path = tmp_path / "many.tif"
    write_labels(path, np.arange(12).reshape(3, 4) * 10_000, pixel_size_nm=2.5)
    assert read_mask(path).max() == 110_000  # label ids kept
    assert read_pixel_size(path).nm == pytest.approx(2.5)


def test_uncalibrated_writes_stay_plain(tmp_path):
    from sagegan.data.calibration import read_pixel_size
    from sagegan.data.io import write_labels

    write_labels(tmp_path / "a.tif", np.ones((3, 4), np.int32))
    assert read_pixel_size(tmp_path / "a.tif") is None
    with pytest.raises(ValueError, match="pixel size must be a positive number of nm"):
        write_labels(tmp_path / "b.tif", np.ones((3, 4), np.int32), pixel_size_nm=0.0)
