"""Dataset check: all problems collected, readable table, JSON-ready dict."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sagegan.data.check import check_dataset


def _save(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def messy_dataset(tmp_path):
    rng = np.random.default_rng(0)
    good_mask = np.zeros((40, 50), np.uint8)
    good_mask[5:15, 5:15] = 255
    good_mask[20:30, 30:40] = 255
    for stem in ("good", "empty", "mismatch", "corrupt"):
        _save(tmp_path / "images" / f"{stem}.png", rng.integers(0, 255, (40, 50), dtype=np.uint8))
    _save(tmp_path / "masks" / "good.png", good_mask)
    _save(tmp_path / "masks" / "empty.png", np.zeros((40, 50), np.uint8))
    _save(tmp_path / "masks" / "mismatch.png", np.zeros((30, 50), np.uint8))
    (tmp_path / "masks" / "corrupt.png").write_bytes(b"garbage")
    _save(tmp_path / "images" / "lonely.png", np.zeros((4, 4), np.uint8))
    return tmp_path


def test_check_collects_every_problem(messy_dataset):
    report = check_dataset(messy_dataset, progress=False)
    by_stem = {f.stem: f for f in report.files}
    assert sorted(by_stem) == ["corrupt", "empty", "good", "mismatch"]
    assert by_stem["good"].error is None and by_stem["good"].n_instances == 2
    assert by_stem["good"].mask_kind == "binary" and by_stem["good"].shape == (40, 50)
    assert by_stem["good"].foreground_fraction == pytest.approx(200 / 2000)
    assert "empty" in by_stem["empty"].warnings[0]
    assert "does not match" in by_stem["mismatch"].error
    assert "corrupt.png" in by_stem["corrupt"].error
    assert len(report.errors) == 2 and not report.ok
    assert "lonely.png" in report.unpaired[0]


def test_report_text_and_dict(messy_dataset):
    report = check_dataset(messy_dataset, progress=False)
    text = report.to_text()
    assert "good" in text and "ERROR" in text and "NOT OK" in text and "lonely.png" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and len(data["files"]) == 4


def test_unpaired_files_fail_only_in_strict_mode(tmp_path):
    mask = np.zeros((20, 20), np.uint8)
    mask[2:6, 2:6] = 255
    _save(tmp_path / "images" / "a.png", np.full((20, 20), 50, np.uint8))
    _save(tmp_path / "masks" / "a.png", mask)
    _save(tmp_path / "images" / "b.png", np.full((20, 20), 50, np.uint8))
    assert check_dataset(tmp_path, progress=False).ok
    assert not check_dataset(tmp_path, strict=True, progress=False).ok


def test_real_tio2_check_reports_bar_and_pixel_size(tio2_sem, tmp_path):
    subset = tmp_path / "tio2"
    for folder in ("images", "masks"):
        (subset / folder).mkdir(parents=True)
        for stem in ("1908248", "1908250"):
            (subset / folder / f"{stem}.tif").symlink_to(tio2_sem / folder / f"{stem}.tif")
    report = check_dataset(subset, progress=False)
    assert report.ok
    assert [f.databar_rows for f in report.files] == [56, 56]
    assert all(f.pixel_size_nm == pytest.approx(7.344) for f in report.files)
    assert "7.344" in report.to_text()
