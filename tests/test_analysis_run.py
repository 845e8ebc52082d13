"""`analyze_images`: tables, units, failures and figures on simulated folders."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.segmentation import find_boundaries

from sagegan.analysis import analyze_images
from sagegan.analysis.figures import EDGE_COLOUR, MEASURED_COLOUR, overlay_rgb
from sagegan.analysis.image import remove_small_labels
from sagegan.cli import main
from sagegan.data.io import write_labels
from sagegan.errors import ConfigError, DataError
from sagegan.infer import PredictionOptions
from sagegan.synth import SimulatorConfig, write_dataset


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SimulatorConfig.preset("pdc", pixel_size_nm=2.0)
    root = tmp_path_factory.mktemp("analysis") / "data"
    return write_dataset(root, n=3, size=(128, 160), seed=1, config=config, progress=False)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_tables_in_nm_match_the_simulation(simulated: Path, tmp_path: Path) -> None:
    meta = json.loads((simulated / "meta.json").read_text())
    result = analyze_images(
        [simulated / "images"], tmp_path / "out", labels_dir=simulated / "labels", progress=False
    )
    assert result.unit == "nm" and not result.failures
    particles = _rows(result.files["particles"])
    assert len(particles) == sum(image["n_particles"] for image in meta["images"])
    assert {"image", "area_nm2", "ecd_nm", "feret_max_nm", "touches_border", "measured"} <= set(
        particles[0]
    )
    first = [row for row in particles if row["image"] == "synth_0000"]
    areas = np.array([float(row["area_nm2"]) for row in first])
    np.testing.assert_allclose(areas, np.asarray(meta["images"][0]["areas_px"]) * 4.0)
    assert {row["measured"] for row in particles} | {
        row["touches_border"] for row in particles
    } <= {
        "0",
        "1",
    }  # booleans as 0/1, as spreadsheets and Fiji read them
    measured = [row["measured"] == "1" for row in particles]
    edge = [row["touches_border"] == "1" for row in particles]
    assert measured == [not flag for flag in edge]
    for row in first:  # pixel coordinates of the source image beside the calibrated ones
        x_px, y_px = float(row["centroid_x_px"]), float(row["centroid_y_px"])
        assert float(row["centroid_x_nm"]) == pytest.approx(2.0 * x_px)
        left, top = int(row["bbox_x_px"]), int(row["bbox_y_px"])
        assert left <= x_px <= left + int(row["bbox_width_px"])
        assert top <= y_px <= top + int(row["bbox_height_px"])
        assert float(row["perimeter_nm"]) > 0
    images = _rows(result.files["images"])
    assert [row["stem"] for row in images] == ["synth_0000", "synth_0001", "synth_0002"]
    assert int(images[0]["count"]) == meta["images"][0]["n_particles"]
    assert float(images[0]["coverage"]) == pytest.approx(meta["images"][0]["coverage"], abs=1e-4)
    assert float(images[0]["field_width_nm"]) == pytest.approx(320.0)
    document = json.loads(result.files["json"].read_text())
    assert document["kind"] == "sagegan-analysis" and document["unit"] == "nm"
    assert "2 nm/px" in document["calibration_note"]
    assert document["folder"]["count"] == len(particles)
    for figure in document["figures"]:
        assert (result.out / figure["file"]).is_file()
    assert any("size_histogram" in figure["file"] for figure in document["figures"])
    assert "| folder | value |" in result.files["markdown"].read_text()


def test_pixel_size_override_scales_lengths(simulated: Path, tmp_path: Path) -> None:
    kwargs = {"labels_dir": simulated / "labels", "progress": False, "max_figures": 0}
    native = analyze_images([simulated / "images"], tmp_path / "a", **kwargs)
    doubled = analyze_images(
        [simulated / "images"],
        tmp_path / "b",
        options=PredictionOptions(pixel_size_nm=4.0),
        **kwargs,
    )
    ratio = doubled.folder["ecd_median_nm"] / native.folder["ecd_median_nm"]
    assert ratio == pytest.approx(2.0)
    assert doubled.folder["density_per_um2"] == pytest.approx(native.folder["density_per_um2"] / 4)


def test_include_edges_changes_only_the_size_statistics(simulated: Path, tmp_path: Path) -> None:
    kwargs = {"labels_dir": simulated / "labels", "progress": False, "max_figures": 0}
    excluded = analyze_images([simulated / "images"], tmp_path / "a", **kwargs)
    included = analyze_images([simulated / "images"], tmp_path / "b", exclude_edges=False, **kwargs)
    assert included.folder["count"] == excluded.folder["count"]
    assert included.folder["count_measured"] == included.folder["count"]
    assert excluded.folder["count_measured"] < excluded.folder["count"]


def test_uncalibrated_images_are_in_pixels_and_say_so(tmp_path: Path) -> None:
    labels = np.zeros((64, 64), dtype=np.uint16)
    labels[10:20, 10:20], labels[40:50, 30:38] = 1, 2
    (tmp_path / "images").mkdir()
    Image.fromarray((labels > 0).astype(np.uint8) * 200).save(tmp_path / "images" / "a.png")
    write_labels(tmp_path / "labels" / "a_labels.tif", labels)
    result = analyze_images(
        [tmp_path / "images"], tmp_path / "out", labels_dir=tmp_path / "labels", progress=False
    )
    assert result.unit == "px"
    header = result.files["particles"].read_text().splitlines()[0]
    assert "area_px2" in header and "ecd_px" in header
    assert "Uncalibrated" in json.loads(result.files["json"].read_text())["calibration_note"]
    assert result.folder["ecd_max_px"] == pytest.approx(2 * np.sqrt(100 / np.pi))


def test_missing_and_mismatched_labels_are_reported_not_dropped(
    simulated: Path, tmp_path: Path
) -> None:
    labels = tmp_path / "labels"
    shutil.copytree(simulated / "labels", labels)
    (labels / "synth_0001.tif").unlink()
    # fewer rows would be read as databar-cropped labels; another width cannot be
    write_labels(labels / "synth_0002.tif", np.ones((128, 150), dtype=np.uint16))
    result = analyze_images(
        [simulated / "images"], tmp_path / "out", labels_dir=labels, progress=False
    )
    assert [a.stem for a in result.images] == ["synth_0000"]
    messages = " ".join(message for _, message in result.failures)
    assert "no label file for 'synth_0001'" in messages
    assert "synth_0002.tif" in messages and "does not match" in messages
    assert "synth_0001" in result.files["markdown"].read_text()


def test_bad_calls_are_one_line_errors(simulated: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        analyze_images([simulated / "images"], tmp_path / "out")
    with pytest.raises(DataError, match="label folder not found"):
        analyze_images([simulated / "images"], tmp_path / "out", labels_dir=tmp_path / "none")
    empty = tmp_path / "empty_labels"
    empty.mkdir()
    with pytest.raises(DataError, match="no image could be analysed"):
        analyze_images([simulated / "images"], tmp_path / "out", labels_dir=empty, progress=False)


def test_mixed_calibration_is_refused(simulated: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    shutil.copytree(simulated / "images", images)
    Image.open(images / "synth_0002.tif").save(images / "synth_0002.png")
    (images / "synth_0002.tif").unlink()
    with pytest.raises(DataError, match="no pixel size, but 2 other images are calibrated"):
        analyze_images([images], tmp_path / "out", labels_dir=simulated / "labels")


def test_min_area_removes_specks_and_counts_them(tmp_path: Path) -> None:
    labels = np.zeros((64, 64), dtype=np.uint16)
    labels[10:20, 10:20], labels[40, 40], labels[50:52, 5] = 1, 2, 3
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((64, 64), 50, dtype=np.uint8)).save(tmp_path / "images" / "a.png")
    write_labels(tmp_path / "labels" / "a.tif", labels)
    kwargs = {"labels_dir": tmp_path / "labels", "progress": False, "max_figures": 0}
    everything = analyze_images([tmp_path / "images"], tmp_path / "all", **kwargs)
    cleaned = analyze_images([tmp_path / "images"], tmp_path / "clean", min_area_px=3, **kwargs)
    assert everything.images[0].scalars["count"] == 3
    scalars = cleaned.images[0].scalars
    assert scalars["count"] == 1 and scalars["count_below_min_area"] == 2
    assert cleaned.images[0].particles.columns["label"].tolist() == [1]
    with pytest.raises(ConfigError, match=">= 0"):
        analyze_images([tmp_path / "images"], tmp_path / "x", min_area_px=-1, **kwargs)


def _sparse_labels() -> np.ndarray:
    """Label ids 2, 5, 9 and 12, not consecutive: 2 and 9 are specks, 5 is an interior particle,
    12 touches the border."""
    labels = np.zeros((64, 64), dtype=np.uint16)
    labels[5:7, 5:7], labels[20:32, 20:32], labels[50, 50], labels[40:60, 0:10] = 2, 5, 9, 12
    return labels


def test_overlay_with_min_area_and_sparse_label_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: the overlay indexed a per-particle array by label id (IndexError when ids
    exceed the number of particles, as after --min-area or with gaps in a label map)."""
    (tmp_path / "images").mkdir()
    Image.fromarray(np.full((64, 64), 80, dtype=np.uint8)).save(tmp_path / "images" / "a.png")
    write_labels(tmp_path / "labels" / "a.tif", _sparse_labels())
    out = tmp_path / "out"
    args = ["analyze", str(tmp_path / "images"), "--labels", str(tmp_path / "labels")]
    assert main([*args, "--out", str(out), "--min-area", "10", "--no-report"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert (out / "figures" / "a_overlay.png").is_file()
    assert main([*args, "--out", str(tmp_path / "all"), "--no-report"]) == 0  # gaps alone


def test_overlay_outlines_exactly_the_kept_particles() -> None:
    labels = _sparse_labels().astype(np.int32)
    kept, _ = remove_small_labels(labels, 10)
    rgb = overlay_rgb(np.zeros(labels.shape), kept, np.array([5, 12]), np.array([True, False]))
    cyan = np.all(rgb == MEASURED_COLOUR, axis=-1)
    orange = np.all(rgb == EDGE_COLOUR, axis=-1)
    boundaries = find_boundaries(labels, mode="inner")
    np.testing.assert_array_equal(cyan, boundaries & (labels == 5))
    np.testing.assert_array_equal(orange, boundaries & (labels == 12))
    # a label missing from the table (not a particle) is not outlined at all
    only_five = overlay_rgb(np.zeros(labels.shape), kept, np.array([5]), np.array([True]))
    assert not np.any(np.all(only_five == EDGE_COLOUR, axis=-1))
    with pytest.raises(ValueError, match="one measured flag per particle"):
        overlay_rgb(np.zeros(labels.shape), kept, np.array([5, 12]), np.array([True]))


def test_analyze_verb_with_labels_writes_tables_and_report(
    simulated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["analyze", str(simulated / "images"), "--labels", str(simulated / "labels")]
    assert main([*args, "--out", str(out), "--references", "5", "--max-figures", "1"]) == 0
    printed = capsys.readouterr().out
    assert "| folder | value |" in printed and f"wrote report {out / 'report.html'}" in printed
    html = (out / "report.html").read_text()
    assert "size_histogram" not in html  # embedded, not linked
    assert html.count("data:image/png;base64,") >= 3
    with pytest.raises(SystemExit) as both:  # a model and labels: argparse refuses the pair
        main([*args, "--model", "builtin", "--out", str(out)])
    assert both.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--references", "1"]) == 2
    assert "n_reference must be an integer >= 2" in capsys.readouterr().err


def test_analyze_verb_reports_failed_images_in_its_exit_status(
    simulated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels"
    shutil.copytree(simulated / "labels", labels)
    (labels / "synth_0001.tif").unlink()
    args = ["analyze", str(simulated / "images"), "--labels", str(labels), "--no-report"]
    assert main([*args, "--out", str(tmp_path / "out"), "--max-figures", "0"]) == 1
    assert "failed: " in capsys.readouterr().err
    assert not (tmp_path / "out" / "report.html").exists()


def test_analyze_with_a_model_segments_first(tiny_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = tiny_run
    result = analyze_images(
        [data / "images"], tmp_path / "out", model=run, max_figures=1, progress=False
    )
    segmented = sorted((tmp_path / "out" / "segmented").glob("*_labels.tif"))
    assert len(segmented) == len(list((data / "images").iterdir())) == len(result.images)
    assert {a.label_file for a in result.images} == set(segmented)
    assert json.loads(result.files["json"].read_text())["settings"]["model"] == str(run)
