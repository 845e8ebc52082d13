"""Pixel size from instrument metadata, resolution tags and sidecar files."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from sagegan.data.calibration import (
    USER_OVERRIDE,
    folder_pixel_sizes,
    parse_pixel_size,
    parse_sidecar,
    pixel_size_of,
    read_pixel_size,
)
from sagegan.errors import ConfigError, DataError

IMAGE = np.zeros((32, 48), np.uint8)


@pytest.mark.parametrize(
    ("text", "nm"),
    [
        ("1.25nm", 1.25),
        ("1.25 nm", 1.25),
        ("0.002um", 2.0),
        ("0.002µm", 2.0),
        ("0.002μm", 2.0),
        ("2e-9m", 2.0),
        ("3.1A", 0.31),
        ("3.1Å", 0.31),
        ("500 pm", 0.5),
        (".5 micron", 500.0),
    ],
)
def test_parse_pixel_size(text, nm):
    assert parse_pixel_size(text) == pytest.approx(nm)


@pytest.mark.parametrize("text", ["", "1.25", "nm", "1.25 parsecs", "-1nm", "0 nm", "abc um"])
def test_parse_pixel_size_rejects_bad_text(text):
    with pytest.raises(ConfigError):
        parse_pixel_size(text)


def test_real_zeiss_tiffs(tio2_sem):
    sizes = {read_pixel_size(p) for p in sorted((tio2_sem / "images").glob("*.tif"))[:4]}
    assert len(sizes) == 1
    (size,) = sizes
    assert size.nm == pytest.approx(7.344)
    assert "Zeiss" in size.source


def test_real_pngs_without_metadata(pdc_sem):
    assert read_pixel_size(pdc_sem / "images" / "large_0.png") is None


def test_zeiss_tag_with_micrometres(tmp_path):
    text = "\r\n0\r\nAP_IMAGE_PIXEL_SIZE\r\nImage Pixel Size = 0.0125 µm\r\n"
    path = tmp_path / "zeiss.tif"
    tifffile.imwrite(path, IMAGE, extratags=[(34118, "s", 0, text.encode("latin-1"), True)])
    size = read_pixel_size(path)
    assert size.nm == pytest.approx(12.5) and "Zeiss" in size.source


def test_fei_metadata(tmp_path):
    text = "[User]\r\nDate=01/01/2024\r\n[Scan]\r\nPixelWidth=2.5e-009\r\nPixelHeight=2.5e-009\r\n"
    path = tmp_path / "fei.tif"
    tifffile.imwrite(path, IMAGE, extratags=[(34682, "s", 0, text, True)])
    size = read_pixel_size(path)
    assert size.nm == pytest.approx(2.5) and "FEI" in size.source


def test_resolution_tags_in_centimetres(tmp_path):
    path = tmp_path / "synth.tif"
    pixel_nm = 3.0
    per_cm = 1e7 / pixel_nm
    tifffile.imwrite(path, IMAGE, resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")
    size = read_pixel_size(path)
    assert size.nm == pytest.approx(pixel_nm, rel=1e-6) and "resolution" in size.source


@pytest.mark.parametrize("dpi", [72, 96, 150, 300, 600])
def test_print_dpi_is_not_a_pixel_size(tmp_path, dpi):
    path = tmp_path / "print.tif"
    tifffile.imwrite(path, IMAGE, resolution=(dpi, dpi), resolutionunit="INCH")
    assert read_pixel_size(path) is None
    png = tmp_path / "print.png"
    Image.fromarray(IMAGE).save(png, dpi=(dpi, dpi))
    assert read_pixel_size(png) is None


def test_fine_inch_resolution_and_unequal_axes(tmp_path):
    path = tmp_path / "fine.tif"
    tifffile.imwrite(path, IMAGE, resolution=(2.54e6, 2.54e6), resolutionunit="INCH")
    assert read_pixel_size(path).nm == pytest.approx(10.0)
    skewed = tmp_path / "skewed.tif"
    tifffile.imwrite(skewed, IMAGE, resolution=(1e6, 2e6), resolutionunit="CENTIMETER")
    assert read_pixel_size(skewed) is None


def test_default_tifffile_resolution_is_unknown(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, IMAGE)
    assert read_pixel_size(path) is None


def test_imagej_calibration(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, IMAGE, imagej=True, resolution=(0.5, 0.5), metadata={"unit": "nm"})
    assert read_pixel_size(path).nm == pytest.approx(2.0)


def test_hitachi_sidecar(tmp_path):
    path = tmp_path / "h.tif"
    tifffile.imwrite(path, IMAGE)
    path.with_suffix(".txt").write_text(
        "[SemImageFile]\nInstructName=S-4800\nDataSize=48x32\nPixelSize=4.960938\n"
    )
    size = read_pixel_size(path)
    assert (
        size.nm == pytest.approx(4.960938) and "Hitachi" in size.source and "h.txt" in size.source
    )


def test_jeol_sidecar(tmp_path):
    path = tmp_path / "j.jpg"
    Image.fromarray(IMAGE).save(path)
    text = "$CM_FORMAT JEOL/SEM\n$CM_FULL_SIZE 48 32\n$$SM_MICRON_BAR 40\n$$SM_MICRON_MARKER 1µm\n"
    path.with_suffix(".txt").write_bytes(text.encode("latin-1"))
    size = read_pixel_size(path)
    assert size.nm == pytest.approx(25.0) and "JEOL" in size.source


def test_jeol_bar_on_other_grid_is_unknown():
    text = "$CM_FULL_SIZE 1280 960\n$$SM_MICRON_BAR 160\n$$SM_MICRON_MARKER 5um\n"
    assert parse_sidecar(text, image_width=640) is None
    assert parse_sidecar(text, image_width=1280).nm == pytest.approx(31.25)


@pytest.mark.parametrize(
    "text",
    ["", "$$SM_MICRON_BAR 160\n", "$$SM_MICRON_BAR 0\n$$SM_MICRON_MARKER 5um\n", "PixelSize=abc\n"],
)
def test_incomplete_sidecars_are_unknown(text):
    assert parse_sidecar(text) is None


def test_embedded_metadata_wins_over_sidecar(tmp_path):
    text = "[Scan]\r\nPixelWidth=1e-009\r\n"
    path = tmp_path / "both.tif"
    tifffile.imwrite(path, IMAGE, extratags=[(34682, "s", 0, text, True)])
    path.with_suffix(".txt").write_text("PixelSize=9\n")
    assert read_pixel_size(path).nm == pytest.approx(1.0)


def _fei_tiff(path, nm):
    text = f"[Scan]\r\nPixelWidth={nm * 1e-9}\r\n"
    tifffile.imwrite(path, IMAGE, extratags=[(34682, "s", 0, text, True)])
    return path


def test_the_rule_is_override_then_metadata_then_pixels(tmp_path):
    calibrated = _fei_tiff(tmp_path / "calibrated.tif", 2.0)
    plain = tmp_path / "plain.png"
    Image.fromarray(IMAGE).save(plain)
    assert pixel_size_of(calibrated).nm == pytest.approx(2.0)
    assert pixel_size_of(plain) is None
    for path in (calibrated, plain):
        override = pixel_size_of(path, 0.5)
        assert override.nm == 0.5 and override.source == USER_OVERRIDE
    with pytest.raises(ConfigError, match="pixel size must be positive, got 0"):
        pixel_size_of(plain, 0)


def test_a_folder_is_calibrated_or_in_pixels_never_both(tmp_path):
    first, second = _fei_tiff(tmp_path / "a.tif", 2.0), _fei_tiff(tmp_path / "b.tif", 3.0)
    plain = tmp_path / "c.png"
    Image.fromarray(IMAGE).save(plain)
    sizes = folder_pixel_sizes([first, second])
    assert [size.nm for size in sizes.values()] == pytest.approx([2.0, 3.0])
    assert folder_pixel_sizes([plain]) == {plain: None}
    with pytest.raises(DataError) as error:
        folder_pixel_sizes([first, plain, second])
    message = str(error.value)
    assert message.startswith(str(plain)) and "\n" not in message
    assert "no pixel size, but 2 other images are calibrated; give --pixel-size" in message
    overridden = folder_pixel_sizes([first, plain], override_nm=4.0)
    assert {size.nm for size in overridden.values()} == {4.0}
