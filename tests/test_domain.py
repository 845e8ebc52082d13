"""The domain check: images unlike a model's training images are named, in-domain ones are not."""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from conftest import TINY_RUN_SIZE
from sagegan.analysis import analyze_images
from sagegan.data.calibration import pixel_size_of
from sagegan.data.dataset import load_sample
from sagegan.data.io import write_image
from sagegan.data.pairing import find_pairs
from sagegan.errors import DataError
from sagegan.infer import PredictionOptions, segment_images
from sagegan.infer.domain import (
    DomainFingerprint,
    DomainGuard,
    _leave_one_out,
    build_fingerprint,
    check_image,
    image_tiles,
    neighbour_correlation,
)
from sagegan.models.attention_unet import AttentionUNet
from sagegan.models.checkpoint import resolve_checkpoint
from sagegan.models.run_folder import CheckpointFolder
from sagegan.report import write_report
from sagegan.synth import write_dataset


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> list:
    """Sixteen simulated 128x128 samples (normalised as training reads them), 1 nm/px."""
    data = write_dataset(tmp_path_factory.mktemp("sim"), n=16, size=(128, 128), seed=3)
    return [load_sample(pair, "none", 1.0) for pair in find_pairs(data)]


@pytest.fixture(scope="module")
def network() -> AttentionUNet:
    torch.manual_seed(0)
    return AttentionUNet(base_width=4, depth=3, norm="instance").eval()


@pytest.fixture(scope="module")
def fingerprint(network: AttentionUNet, simulated: list) -> DomainFingerprint:
    result = build_fingerprint(network, [s.image for s in simulated[:12]], [1.0] * 12)
    assert result is not None
    return result


def test_tiles_cover_the_image_evenly():
    image = np.arange(600 * 900, dtype=np.float32).reshape(600, 900)
    tiles = image_tiles(image, tile=256, count=8)
    assert 1 < len(tiles) <= 8 and all(t.shape == (256, 256) for t in tiles)
    assert tiles[0][0, 0] == image[0, 0] and tiles[-1][-1, -1] == image[-1, -1]
    assert next(t.shape for t in image_tiles(image[:100], tile=256)) == (100, 100)


def test_neighbour_correlation_tells_micrographs_from_noise(simulated: list):
    rng = np.random.default_rng(0)
    assert neighbour_correlation(simulated[0].image) > 0.5
    assert abs(neighbour_correlation(rng.uniform(-1, 1, (128, 128)))) < 0.05
    assert neighbour_correlation(np.zeros((32, 32))) == 0.0


def test_held_out_images_pass_and_unlike_images_are_named(
    network: AttentionUNet, simulated: list, fingerprint: DomainFingerprint
):
    for sample in simulated[12:]:
        held_out = check_image(network, fingerprint, sample.image, 1.0)
        assert not held_out.outside, held_out.reasons
    rng = np.random.default_rng(1)
    image = simulated[12].image
    noise = check_image(network, fingerprint, rng.uniform(-1, 1, image.shape), 1.0)
    assert noise.outside and any("neighbour correlation" in r for r in noise.reasons)
    shuffled = rng.permutation(image.ravel()).reshape(image.shape)
    assert check_image(network, fingerprint, shuffled, 1.0).outside
    flat = check_image(network, fingerprint, np.full((128, 128), 0.3, np.float32), 1.0)
    assert flat.score > fingerprint.threshold, flat
    scaled = check_image(network, fingerprint, image, 4.0)
    assert [r for r in scaled.reasons if r.startswith("pixel size 4 nm")], scaled.reasons
    assert not check_image(network, fingerprint, image, None).outside  # uncalibrated: no test
    small = check_image(network, fingerprint, image[:64, :64], 1.0)  # under the training tiles
    assert np.isnan(small.score) and not small.outside and small.to_dict()["score"] is None


def test_leave_one_out_extremes_match_brute_force():
    rng = np.random.default_rng(4)
    per_image = [rng.integers(0, 5, 40).astype(float) for _ in range(6)]  # with ties
    for reduce, pick in (("min", np.min), ("max", np.max)):
        fast = _leave_one_out(per_image, reduce)
        for n in range(6):
            others = [values for i, values in enumerate(per_image) if i != n]
            assert np.array_equal(fast[n], pick(others, axis=0))


def test_fingerprint_needs_three_images_and_an_encoder(network: AttentionUNet, simulated: list):
    images = [s.image for s in simulated[:4]]
    full = build_fingerprint(network, images, [None, 1.0, 2.0, 3.0])
    assert full is not None and full.images == 4 and full.pixel_size_nm is None
    assert full.tile_px == 128
    assert full.threshold >= 3.0
    assert build_fingerprint(network, images[:2], [None] * 2) is None
    assert build_fingerprint(torch.nn.Conv2d(1, 1, 3), images, [None] * 4) is None


def test_the_fingerprint_round_trips_through_its_file(
    fingerprint: DomainFingerprint, tmp_path: Path
):
    fingerprint.save(tmp_path / "domain.safetensors")
    loaded = DomainFingerprint.load(tmp_path / "domain.safetensors")
    assert loaded.scale == fingerprint.scale and loaded.threshold == fingerprint.threshold
    assert (loaded.images, loaded.tile_px) == (fingerprint.images, fingerprint.tile_px)
    assert (loaded.correlation, loaded.pixel_size_nm) == (
        fingerprint.correlation,
        fingerprint.pixel_size_nm,
    )
    for ours, theirs in zip(
        loaded.low + loaded.high, fingerprint.low + fingerprint.high, strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(DataError, match="bad\\.safetensors"):
        DomainFingerprint.load(tmp_path / "bad.safetensors")


def test_training_records_a_fingerprint_that_segment_uses(
    tiny_run: tuple[Path, Path], tmp_path: Path
):
    data, run = tiny_run
    folder = CheckpointFolder(resolve_checkpoint(run, "best"))
    assert folder.domain_path().is_file()
    assert DomainGuard.for_weights(folder.weights()) is not None
    noise = np.random.default_rng(2).integers(0, 255, TINY_RUN_SIZE, dtype=np.uint8)
    tifffile.imwrite(tmp_path / "noise.tif", noise)
    image = sorted((data / "images").iterdir())[0]
    options = PredictionOptions(backend="torch", precision="fp32")
    summary = segment_images([image, tmp_path / "noise.tif"], run, tmp_path / "out", options)
    by_stem = {r.stem: r for r in summary.results}
    assert by_stem["noise"].domain_reasons and not by_stem[image.stem].domain_reasons
    record = json.loads((tmp_path / "out" / "noise.json").read_text())
    assert record["domain"]["outside"] and record["domain"]["reasons"]
    unchecked = segment_images(
        [tmp_path / "noise.tif"],
        run,
        tmp_path / "unchecked",
        PredictionOptions(backend="torch", precision="fp32", domain_check=False),
    )
    assert not unchecked.results[0].domain_reasons
    assert json.loads((tmp_path / "unchecked" / "noise.json").read_text())["domain"] is None


def test_segment_names_unlike_images_in_one_line(tiny_run: tuple[Path, Path], tmp_path: Path):
    _, run = tiny_run
    noise = np.random.default_rng(3).integers(0, 255, TINY_RUN_SIZE, dtype=np.uint8)
    tifffile.imwrite(tmp_path / "noise.tif", noise)
    command = [sys.executable, "-m", "sagegan", "segment", str(tmp_path / "noise.tif")]
    command += ["--model", str(run), "--out", str(tmp_path / "out"), "--backend", "torch"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "1 image(s) look unlike the model's training images" in done.stdout
    assert "noise.tif looks unlike the model's training images" in done.stderr


def test_analyze_and_its_report_name_unlike_images(tiny_run: tuple[Path, Path], tmp_path: Path):
    data, run = tiny_run
    noise = np.random.default_rng(5).integers(0, 255, TINY_RUN_SIZE, dtype=np.uint8)
    inputs = tmp_path / "inputs"
    image = sorted((data / "images").iterdir())[0]
    write_image(inputs / "noise.tif", noise, pixel_size_of(image).nm)
    (inputs / image.name).write_bytes(image.read_bytes())
    options = PredictionOptions(backend="torch", precision="fp32")
    result = analyze_images([inputs], tmp_path / "out", model=run, options=options)
    record = json.loads(result.files["json"].read_text())
    assert list(record["settings"]["domain_unlike"]) == ["noise"]
    assert "- noise: " in result.files["markdown"].read_text()
    report = write_report([result.out, result.out / "segmented"], tmp_path / "report.html")
    text = html.unescape(report.read_text(encoding="utf-8"))
    assert text.count("1 images unlike the model's training images, check their masks: noise") == 2
