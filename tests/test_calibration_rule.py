"""One calibration rule in every command that measures images together: evaluate and analyze
refuse the same folder mixing calibrated and uncalibrated images with the same one-line error,
and both take a --pixel-size override for every image."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sagegan.analysis import analyze_images
from sagegan.cli import main
from sagegan.errors import DataError
from sagegan.evaluate import evaluate_run
from sagegan.infer import PredictionOptions
from sagegan.synth import SimulatorConfig, write_dataset

REFUSAL = "synth_0002.png: no pixel size, but 2 other images are calibrated; give --pixel-size"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulated pairs, two calibrated TIFFs and one PNG without calibration."""
    config = SimulatorConfig.preset("pdc", pixel_size_nm=2.0)
    root = tmp_path_factory.mktemp("mixed") / "data"
    write_dataset(root, n=3, size=(96, 128), seed=2, config=config, progress=False)
    Image.open(root / "images" / "synth_0002.tif").save(root / "images" / "synth_0002.png")
    (root / "images" / "synth_0002.tif").unlink()
    return root


def _evaluate(data: Path, out: Path, options: PredictionOptions | None = None):
    return evaluate_run(
        None,
        data,
        out=out,
        split="all",
        options=options,
        predictor=lambda sample: sample.labels,
        progress=False,
    )


def _analyze(data: Path, out: Path, options: PredictionOptions | None = None):
    return analyze_images(
        [data / "images"],
        out,
        labels_dir=data / "labels",
        options=options,
        max_figures=0,
        progress=False,
    )


@pytest.mark.parametrize("command", [_evaluate, _analyze], ids=["evaluate", "analyze"])
def test_every_command_refuses_a_mixed_folder_alike(command, mixed: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        command(mixed, tmp_path / "out")
    assert REFUSAL in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "out").exists(), "refused before any output"


def test_the_override_calibrates_every_image_of_every_command(mixed: Path, tmp_path: Path) -> None:
    options = PredictionOptions(pixel_size_nm=4.0)
    evaluated = _evaluate(mixed, tmp_path / "eval", options)
    assert evaluated.summary["hd95_unit"] == "nm"
    analysed = _analyze(mixed, tmp_path / "analysis", options)
    assert analysed.unit == "nm"
    assert {image.scalars["pixel_size_nm"] for image in analysed.images} == {4.0}


def test_the_refusal_is_one_line_on_the_command_line(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["analyze", str(mixed / "images"), "--labels", str(mixed / "labels"), "--no-report"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sagegan analyze: error: ")
    assert REFUSAL in lines[0]
