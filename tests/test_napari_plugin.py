"""The napari plugin's Qt-free parts: layers in nm, the reader, saved corrections, the fine-tuning
runner, the particle table and the npe2 manifest (the widget: tests/test_napari_widget.py)."""

from __future__ import annotations

import csv
import importlib
import os
import time
from pathlib import Path

import numpy as np
import pytest

from sagegan.analysis.run import analyze_images
from sagegan.data.calibration import pixel_size_of
from sagegan.data.dataset import load_sample
from sagegan.data.io import read_image, read_mask
from sagegan.data.pairing import find_pairs
from sagegan.errors import DataError
from sagegan.infer.segment import segment_images
from sagegan.models.checkpoint import load_model
from sagegan.napari_plugin.corrections import mask_folder_name, save_correction
from sagegan.napari_plugin.finetune import (
    CANCELLED,
    FINISHED,
    RUNNING,
    FineTuneRun,
    epochs_planned,
    next_run_folder,
)
from sagegan.napari_plugin.layers import (
    IMAGE_KEY,
    PIXEL_SIZE_KEY,
    layer_name,
    physical_geometry,
    prediction_layers,
)
from sagegan.napari_plugin.measure import features_of, measure_labels, write_particles_csv
from sagegan.napari_plugin.prediction import Segmenter
from sagegan.napari_plugin.reader import get_reader
from sagegan.synth import SimulatorConfig, write_dataset

PIXEL_NM = 2.0  # the simulated images' calibration (not 1, which pixels would give too)
MANIFEST = Path(__file__).parents[1] / "src" / "sagegan" / "napari_plugin" / "napari.yaml"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulated 96x96 SEM images, calibrated (TIFF resolution tags), with labels."""
    root = tmp_path_factory.mktemp("napari_synth")
    config = SimulatorConfig(pixel_size_nm=PIXEL_NM)
    return write_dataset(root / "data", n=3, size=(96, 96), seed=3, config=config, progress=False)


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter("builtin")


def _images(synth: Path) -> list[Path]:
    return sorted((synth / "images").glob("*.tif"))


def test_prediction_layers_are_in_nm_and_match_segment(
    synth: Path, segmenter: Segmenter, tmp_path: Path
):
    image = _images(synth)[0]
    prediction = segmenter.predict_file(image)
    layers = {
        kwargs["name"]: (data, kwargs, kind) for data, kwargs, kind in prediction_layers(prediction)
    }
    names = [layer_name(image.stem, kind) for kind in ("probability", "attention", "labels")]
    assert list(layers) == names  # labels last: on top, selected for editing
    for data, kwargs, _ in layers.values():
        assert data.shape == (96, 96)
        assert kwargs["scale"] == (PIXEL_NM, PIXEL_NM) and kwargs["units"] == ("nm", "nm")
        assert kwargs["metadata"][PIXEL_SIZE_KEY] == PIXEL_NM
        assert kwargs["metadata"][IMAGE_KEY] == image.stem
    labels, _, kind = layers[names[2]]
    assert kind == "labels" and labels.max() > 0
    probability = layers[names[0]][0]
    assert probability.min() >= 0.0 and probability.max() <= 1.0
    # the same labels as `sagegan segment` writes, and from the layer's data as from the file
    summary = segment_images([image], "builtin", tmp_path / "seg", progress=False)
    np.testing.assert_array_equal(read_mask(summary.results[0].files["labels"]), labels)
    in_memory = segmenter.predict_array(read_image(image), image.stem, PIXEL_NM)
    np.testing.assert_array_equal(in_memory.labels, labels)
    assert physical_geometry(None) == {"scale": (1.0, 1.0)}  # uncalibrated: pixels


def test_an_image_unlike_the_training_images_is_named(segmenter: Segmenter):
    noise = np.random.default_rng(0).integers(0, 255, (96, 96)).astype(np.uint8)
    prediction = segmenter.predict_array(noise, "noise", PIXEL_NM)
    assert any("neighbour correlation" in reason for reason in prediction.domain_reasons)
    assert segmenter.guard is not None


def test_the_reader_opens_tiffs_with_their_pixel_size(synth: Path, tmp_path: Path):
    image = _images(synth)[0]
    reader = get_reader(str(image))
    assert reader is not None and get_reader(str(tmp_path / "x.png")) is None
    ((data, kwargs, kind),) = reader(str(image))
    assert kind == "image" and data.shape == (96, 96)
    assert kwargs["scale"] == (PIXEL_NM, PIXEL_NM) and kwargs["units"] == ("nm", "nm")


def test_saved_corrections_round_trip_through_the_training_reader(synth: Path, tmp_path: Path):
    image = _images(synth)[0]
    edited = read_mask(synth / "labels" / image.name) * 3  # gaps in the numbering
    edited[:4, :4] = 50  # a particle painted by hand
    dataset = tmp_path / "corrected"
    pair = save_correction(dataset, image.stem, edited, source=image, pixel_size_nm=PIXEL_NM)
    raw = read_image(image)
    save_correction(dataset, "painted", edited, image=raw, pixel_size_nm=PIXEL_NM)
    pairs = find_pairs(dataset, mask_dir=mask_folder_name(dataset))
    assert [p.stem for p in pairs] == ["painted", image.stem] and pairs[1] == pair
    for found in pairs:
        sample = load_sample(found, "none")
        assert sample.pixel_size is not None and sample.pixel_size.nm == pytest.approx(PIXEL_NM)
        assert sample.labels.max() == len(np.unique(edited)) - 1  # renumbered 1..N
        np.testing.assert_array_equal(sample.labels > 0, edited > 0)
    assert read_image(pair.image).shape == raw.shape
    assert pixel_size_of(pairs[0].mask).nm == pytest.approx(PIXEL_NM)
    with pytest.raises(DataError, match="empty"):
        save_correction(dataset, "x", np.zeros_like(edited), source=image)
    with pytest.raises(DataError, match="does not match"):
        save_correction(dataset, "x", edited[:50], source=image)


def test_fine_tuning_is_cancelled_and_resumed_to_completion(synth: Path, tmp_path: Path):
    dataset = tmp_path / "corrected"
    for image in _images(synth)[:2]:
        save_correction(dataset, image.stem, read_mask(synth / "labels" / image.name), source=image)
    out = next_run_folder(dataset)
    assert out == tmp_path / "corrected-runs" / "tune-01"
    with pytest.raises(DataError, match="at least 3 corrected images"):
        FineTuneRun(dataset, out, iterations=4).start()
    image = _images(synth)[2]
    save_correction(dataset, image.stem, read_mask(synth / "labels" / image.name), source=image)
    run = FineTuneRun(dataset, out, "builtin", iterations=4)
    run.start()
    deadline = time.monotonic() + 60
    while epochs_planned(out) is None and run.poll().state == RUNNING:
        assert time.monotonic() < deadline, "no plan after 60 s"
        time.sleep(0.1)
    run.cancel()
    progress = run.poll()
    assert progress.state == CANCELLED and "resumable" in progress.message
    assert run.process is not None and run.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(run.process.pid, 0)  # the process group is gone: nothing keeps training
    resumed = FineTuneRun(dataset, out, resume=True)
    assert "--resume" in resumed.command()
    resumed.start()
    progress = resumed.wait(timeout=120)
    assert progress.state == FINISHED, progress.message
    assert progress.fraction == 1.0 and progress.epochs_done == progress.epochs_total == 4
    model, info = load_model(out)
    assert info["model_kwargs"]["depth"] == load_model("builtin")[1]["model_kwargs"]["depth"]
    del model


def test_the_particle_table_is_the_one_analyze_writes(synth: Path, tmp_path: Path):
    image = _images(synth)[0]
    labels = read_mask(synth / "labels" / image.name)
    raw = read_image(image)
    table = measure_labels(labels, raw, PIXEL_NM)
    result = analyze_images(
        [image], tmp_path / "analysis", labels_dir=synth / "labels", progress=False
    )
    with open(result.files["particles"], encoding="utf-8") as handle:
        expected = list(csv.DictReader(handle))
    written = write_particles_csv(tmp_path / "particles.csv", table)
    with open(written, encoding="utf-8") as handle:
        ours = list(csv.DictReader(handle))
    assert len(ours) == len(expected) == len(table) > 0
    for row, reference in zip(ours, expected, strict=True):
        assert set(row) <= set(reference)
        for header, value in row.items():
            assert float(value) == pytest.approx(float(reference[header]), rel=1e-9), header
    features = features_of(table)
    np.testing.assert_array_equal(features["index"], np.unique(labels)[1:])
    assert "ecd_nm" in features and "area_nm2" in features
    assert measure_labels(labels).unit == "px"


def test_the_npe2_manifest_is_valid_and_its_reader_opens_in_nm(request, synth: Path):
    npe2 = pytest.importorskip("npe2", reason="npe2 comes with napari (pip install .[napari])")
    pytest.importorskip("napari", reason="the widget needs napari (pip install .[napari])")
    pytest.importorskip("qtpy", reason="the widget needs Qt (pip install .[napari])")
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "sagegan"
    assert manifest.contributions.readers and manifest.contributions.widgets
    for command in manifest.contributions.commands:
        module, name = command.python_name.split(":")
        assert callable(getattr(importlib.import_module(module), name)), command.python_name
    plugins = request.getfixturevalue("npe2pm")  # npe2's plugin manager for tests
    with plugins.tmp_plugin(manifest=str(MANIFEST)):
        ((_, kwargs, kind),) = npe2.read([_images(synth)[0]], stack=False, plugin_name="sagegan")
    assert kind == "image" and kwargs["scale"] == (PIXEL_NM, PIXEL_NM)
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((MANIFEST.parents[3] / "pyproject.toml").read_text("utf-8"))
    entry = pyproject["project"]["entry-points"]["napari.manifest"]["sagegan"]
    assert entry == "sagegan.napari_plugin:napari.yaml"
