"""The segment job on a tiny trained run: files, dtypes, shapes, JSON, bad files, databars."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from conftest import TINY_RUN_SIZE
from sagegan.errors import ConfigError
from sagegan.infer import PredictionOptions, segment_images
from sagegan.synth import SimulatorConfig, simulate, write_sem_tiff

SIZE = TINY_RUN_SIZE
TILED = PredictionOptions(tile=(64, 64))


@pytest.fixture
def trained_run(tiny_run: tuple[Path, Path]) -> tuple[Path, Path]:
    return tiny_run


def _json(out: Path, stem: str) -> dict:
    return json.loads((out / f"{stem}.json").read_text())


def test_writes_every_output_with_correct_dtypes_and_shapes(
    trained_run: tuple[Path, Path], tmp_path: Path
) -> None:
    data, run = trained_run
    images = sorted((data / "images").iterdir())[:2]
    summary = segment_images(images, run, tmp_path, TILED, progress=False)
    assert summary.ok and [r.stem for r in summary.results] == [p.stem for p in images]
    for image in images:
        stem = image.stem
        mask = np.asarray(Image.open(tmp_path / f"{stem}_mask.png"))
        probability = tifffile.imread(tmp_path / f"{stem}_prob.tif")
        labels = tifffile.imread(tmp_path / f"{stem}_labels.tif")
        overlay = Image.open(tmp_path / f"{stem}_attention.png")
        assert mask.dtype == np.uint8 and mask.shape == SIZE
        assert set(np.unique(mask)) <= {0, 255}
        assert probability.dtype == np.float32 and probability.shape == SIZE
        assert np.all((probability >= 0) & (probability <= 1))
        assert np.array_equal(mask == 255, probability > 0.5)
        assert labels.dtype == np.uint16 and labels.shape == SIZE
        assert not np.any(labels[mask == 0])  # instances lie inside the mask
        assert overlay.mode == "RGB" and overlay.size == (SIZE[1], SIZE[0])
        record = _json(tmp_path, stem)
        assert record["particle_count"] == len(np.unique(labels[labels > 0])) == labels.max()
        assert record["shape"] == list(SIZE) and record["databar_rows"] == 0
        assert record["pixel_size_nm"] == pytest.approx(SimulatorConfig().pixel_size_nm)
        assert record["foreground_fraction"] == pytest.approx(np.mean(mask == 255))
        assert record["source"] == str(image)


def test_corrupt_file_is_reported_and_skipped(
    trained_run: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data, run = trained_run
    corrupt = tmp_path / "inputs" / "broken.png"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    good = sorted((data / "images").iterdir())[0]
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR, logger="sagegan"):
        summary = segment_images([corrupt, good], run, out, TILED, progress=False)
    assert not summary.ok
    assert [failure.source for failure in summary.failures] == [corrupt]
    assert str(corrupt) in summary.failures[0].message
    assert any(str(corrupt) in record.getMessage() for record in caplog.records)
    assert [result.stem for result in summary.results] == [good.stem]
    assert (out / f"{good.stem}_labels.tif").is_file()
    assert not list(out.glob("broken*"))


def test_databar_is_cropped_and_reported(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, run = trained_run
    config = SimulatorConfig(databar_probability=1.0).with_size(SIZE)
    sample = simulate(seed=3, config=config)
    rows = sample.meta["databar_rows"]
    assert rows > 0
    image = tmp_path / "with_bar.tif"
    write_sem_tiff(image, sample.image, config.pixel_size_nm)
    summary = segment_images([image], run, tmp_path / "auto", TILED, progress=False)
    record = _json(tmp_path / "auto", "with_bar")
    assert summary.ok and record["databar_rows"] == rows
    assert record["shape"] == [SIZE[0] - rows, SIZE[1]] and record["source_shape"] == list(SIZE)
    labels = tifffile.imread(tmp_path / "auto" / "with_bar_labels.tif")
    assert labels.shape == SIZE and not labels[-rows:].any()  # the source's size, bar empty
    segment_images(
        [image], run, tmp_path / "kept", PredictionOptions(databar="none"), progress=False
    )
    assert _json(tmp_path / "kept", "with_bar")["shape"] == list(SIZE)


def test_bad_options_fail_before_any_work(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = trained_run
    with pytest.raises(ConfigError):
        segment_images([data / "images"], run, tmp_path / "out", PredictionOptions(threshold=1.0))
    with pytest.raises(ConfigError):
        segment_images([data / "images"], run, tmp_path / "out", PredictionOptions(tta="rotate"))
    assert not (tmp_path / "out").exists()


def test_inputs_sharing_a_stem_are_not_overwritten(
    trained_run: tuple[Path, Path], tmp_path: Path
) -> None:
    data, run = trained_run
    source = sorted((data / "images").iterdir())[0]
    copy = tmp_path / "other" / source.name
    copy.parent.mkdir()
    copy.write_bytes(source.read_bytes())
    summary = segment_images([source, copy], run, tmp_path / "out", progress=False)
    assert [result.source for result in summary.results] == [source]
    assert [failure.source for failure in summary.failures] == [copy]
    assert "already used" in summary.failures[0].message


def test_outputs_overlay_the_source_in_fiji(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    """Masks, probabilities and labels at the source's size with the databar rows as background,
    calibrated TIFFs, an outline overlay and a ROI zip whose polygons refill the particles."""
    import roifile
    from skimage import draw

    from sagegan.synth import SimulatorConfig, write_dataset

    config = SimulatorConfig(databar_probability=1.0, databar_fraction=0.15)
    data = write_dataset(
        tmp_path / "data", n=1, size=(128, 160), seed=3, config=config, progress=False
    )
    (image,) = sorted((data / "images").iterdir())
    out = tmp_path / "out"
    summary = segment_images([image], trained_run[1], out, TILED, progress=False, rois=True)
    record = _json(out, image.stem)
    rows = record["databar_rows"]
    assert rows > 0 and record["source_shape"] == [128, 160]
    assert record["shape"] == [128 - rows, 160]  # the part segmented
    with tifffile.TiffFile(out / f"{image.stem}_labels.tif") as tif:
        labels = tif.asarray()
        assert tif.imagej_metadata["unit"] == "nm"
        per_nm = tif.pages[0].tags["XResolution"].value
        assert per_nm[1] / per_nm[0] == pytest.approx(record["pixel_size_nm"])
    mask = np.asarray(Image.open(out / f"{image.stem}_mask.png"))
    assert labels.shape == mask.shape == (128, 160)
    assert not labels[-rows:].any() and not mask[-rows:].any()
    outlines = Image.open(out / f"{image.stem}_outlines.png")
    assert outlines.size == (160, 128 - rows)
    assert summary.results[0].files["rois"].name == f"{image.stem}_rois.zip"
    rois = roifile.roiread(out / f"{image.stem}_rois.zip")
    assert len(rois) == record["particle_count"] > 0
    for roi in rois:
        x, y = roi.coordinates().T
        filled = draw.polygon2mask(labels.shape, np.column_stack((y - 0.5, x - 0.5)))
        particle = labels == int(roi.name)
        assert np.sum(filled ^ particle) <= 0.5 * particle.sum() + 2
