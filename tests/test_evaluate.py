"""evaluate_run on a tiny trained run: split selection, output files, protocols and errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_RUN_SIZE
from sagegan.data.splits import Split, load_split, save_split
from sagegan.errors import ConfigError, DataError
from sagegan.evaluate import evaluate_run, format_summary
from sagegan.infer import PredictionOptions

SIZE = TINY_RUN_SIZE
TILE = (64, 64)


@pytest.fixture
def trained_run(tiny_run: tuple[Path, Path]) -> tuple[Path, Path]:
    return tiny_run


def _write_pairs(root: Path, masks: dict[str, np.ndarray | None]) -> Path:
    """A dataset folder with a random uint8 image per stem and its 0/255 mask (None: no mask)."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for stem, mask in masks.items():
        shape = SIZE if mask is None else mask.shape
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(
            root / "images" / f"{stem}.png"
        )
        if mask is not None:
            Image.fromarray((mask > 0).astype(np.uint8) * 255).save(root / "masks" / f"{stem}.png")
    return root


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_test_split_by_default_with_consistent_files(
    trained_run: tuple[Path, Path], tmp_path: Path
) -> None:
    data, run = trained_run
    split = load_split(run / "split.json")
    result = evaluate_run(
        run, data, out=tmp_path, options=PredictionOptions(tile=TILE), progress=False
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    csv_rows = _csv_rows(tmp_path / "per_image.csv")
    assert [row["name"] for row in result.rows] == sorted(split.test)
    assert metrics["stems"] == sorted(split.test) and metrics["split"] == "test"
    assert not set(metrics["stems"]) & set(split.train + split.val)
    assert Path(metrics["split_file"]) == (run / "split.json").resolve()
    assert len(csv_rows) == len(split.test) == metrics["summary"]["n_images"]
    for json_row, csv_row in zip(metrics["per_image"], csv_rows, strict=True):
        assert json_row["name"] == csv_row["name"]
        assert json_row["dice"] == float(csv_row["dice"])
        assert json_row["f1@0.50"] == float(csv_row["f1@0.50"])
    dice = [row["dice"] for row in result.rows]
    assert metrics["summary"]["dice_mean"] == pytest.approx(np.mean(dice))
    assert metrics["protocol"] == "native" and metrics["sagegan_version"]
    assert metrics["hd95_unit"] == "nm"  # simulated images are calibrated
    assert any("neither true nor predicted" in note for note in metrics["notes"])
    markdown = (tmp_path / "summary.md").read_text()
    assert "| metric | per-image mean ± sd | pooled |" in markdown
    assert f"| Dice | {np.mean(dice):.4f} ± " in markdown and "pooled: pixel and object" in markdown
    for label in ("IoU", "F1@0.50", "F1@0.75", "mean F1 (IoU 0.50:0.95)", "PQ@0.50", "HD95 (nm)"):
        assert f"| {label} |" in markdown
    console = format_summary(result.summary)
    assert "protocol 'native'" in console and f"{np.mean(dice):.4f}" in console


def test_perfect_predictor_on_all_pairs_scores_one(
    trained_run: tuple[Path, Path], tmp_path: Path
) -> None:
    data, run = trained_run
    result = evaluate_run(
        run,
        data,
        out=tmp_path,
        split="all",
        predictor=lambda sample: sample.labels,
        progress=False,
    )
    stems = sorted(path.stem for path in (data / "images").iterdir())
    assert [row["name"] for row in result.rows] == stems
    summary = result.summary
    for key in ("dice_mean", "dice_pooled", "f1@0.50_mean", "f1@0.50_pooled", "mean_f1_mean"):
        assert summary[key] == pytest.approx(1.0)
    assert summary["mean_f1_pooled"] == pytest.approx(1.0)
    assert summary["hd95_mean"] == 0.0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["split_file"] is None and metrics["settings"]["predictor"] == "custom"


def test_paper_protocol_ignores_small_objects_native_does_not(
    trained_run: tuple[Path, Path], tmp_path: Path
) -> None:
    _, run = trained_run
    large = np.zeros((256, 384), dtype=bool)
    large[20:40, 30:50] = True
    truth = large.copy()
    truth[100, 100] = truth[150, 200] = truth[200, 300] = True  # 1-pixel particles
    data = _write_pairs(tmp_path / "data", {"small": truth})
    options = {
        "split": "all",
        "options": PredictionOptions(databar="none"),
        "predictor": lambda _: large,
        "progress": False,
    }
    native = evaluate_run(run, data, out=tmp_path / "native", **options)
    paper = evaluate_run(run, data, out=tmp_path / "paper", protocol="paper", **options)
    assert native.rows[0]["n_true"] == 4 and native.rows[0]["f1@0.50"] == pytest.approx(2 / 5)
    assert paper.rows[0]["n_true"] == 1 and paper.rows[0]["f1@0.50"] == 1.0
    assert native.summary["hd95_unit"] == "px"  # PNGs carry no calibration
    assert "hd95_mean" not in paper.summary
    markdown = (tmp_path / "paper" / "summary.md").read_text()
    assert "protocol 'paper'" in markdown and "F1@0.75" not in markdown


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_image_of_split_without_mask_is_an_error_naming_it(
    trained_run: tuple[Path, Path], tmp_path: Path
) -> None:
    _, run = trained_run
    mask = np.zeros(SIZE, dtype=bool)
    data = _write_pairs(tmp_path / "data", {"a": mask, "b": mask, "c": None})
    split_file = tmp_path / "split.json"
    save_split(Split(train=["a"], val=["b"], test=["c"], seed=0), split_file)
    with pytest.raises(DataError) as error:
        evaluate_run(run, data, out=tmp_path / "out", split_file=split_file, progress=False)
    assert str(data / "images" / "c.png") in _one_line(error)
    assert not (tmp_path / "out").exists()


def test_split_stems_missing_from_data_and_empty_splits(
    trained_run: tuple[Path, Path], tmp_path: Path
) -> None:
    _, run = trained_run
    mask = np.zeros(SIZE, dtype=bool)
    data = _write_pairs(tmp_path / "data", {"a": mask, "b": mask})
    missing = tmp_path / "missing.json"
    save_split(Split(train=["a"], val=["b"], test=["gone"], seed=0), missing)
    with pytest.raises(DataError) as error:
        evaluate_run(run, data, out=tmp_path / "out", split_file=missing, progress=False)
    assert str(missing) in _one_line(error) and "gone" in str(error.value)
    empty = tmp_path / "empty.json"
    save_split(Split(train=["a"], val=["b"], test=[], seed=0), empty)
    with pytest.raises(ConfigError, match="empty"):
        evaluate_run(run, data, out=tmp_path / "out", split_file=empty, progress=False)
    with pytest.raises(ConfigError, match="split"):
        evaluate_run(run, data, out=tmp_path / "out", split="holdout", progress=False)
    with pytest.raises(ConfigError, match="protocol"):
        evaluate_run(run, data, out=tmp_path / "out", protocol="fancy", progress=False)


def test_prediction_of_wrong_shape_is_an_error_naming_the_image(
    trained_run: tuple[Path, Path], tmp_path: Path
) -> None:
    _, run = trained_run
    data = _write_pairs(tmp_path / "data", {"a": np.zeros(SIZE, dtype=bool)})
    with pytest.raises(DataError) as error:
        evaluate_run(
            run,
            data,
            out=tmp_path / "out",
            split="all",
            predictor=lambda _: np.zeros((8, 8), dtype=bool),
            progress=False,
        )
    assert _one_line(error).startswith(str(data / "images" / "a.png"))
