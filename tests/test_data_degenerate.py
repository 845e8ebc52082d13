"""Degenerate training data (all-foreground, inverted or RGB masks, specks, tiny images) is found
by one check that `sagegan check` reports and `sagegan train` runs before any training."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from sagegan.cli import main
from sagegan.data.check import check_dataset, find_degenerate, mask_stats
from sagegan.errors import DataError


def _particles(shape=(64, 64)) -> np.ndarray:
    """A 0/255 mask with two square particles (about 14% foreground at 64x64)."""
    mask = np.zeros(shape, np.uint8)
    mask[8:24, 8:24] = 255
    mask[36:52, 30:46] = 255
    return mask


def _dataset(root, masks: dict[str, np.ndarray]):
    """images/ + masks/ PNGs with matching stems; images are noise of the mask's size."""
    rng = np.random.default_rng(0)
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for stem, mask in masks.items():
        image = rng.integers(0, 255, mask.shape[:2], dtype=np.uint8)
        Image.fromarray(image).save(root / "images" / f"{stem}.png")
        Image.fromarray(mask).save(root / "masks" / f"{stem}.png")
    return root


def _messages(findings, severity=None) -> list[str]:
    return [str(f) for f in findings if severity is None or f.severity == severity]


def test_normal_dataset_has_no_findings(tmp_path):
    from sagegan.synth import write_dataset

    data = write_dataset(tmp_path / "data", n=4, size=(64, 64), progress=False)
    report = check_dataset(data, progress=False, patch_size=64, strict=True)
    assert report.findings == [] and report.ok
    assert "data findings" not in report.to_text()


def test_all_white_masks_are_an_error(tmp_path):
    data = _dataset(tmp_path, {f"w{i}": np.full((64, 64), 255, np.uint8) for i in range(3)})
    report = check_dataset(data, progress=False)
    errors = _messages(report.findings, "error")
    assert len(errors) == 1 and "all 3 masks are 100% foreground" in errors[0]
    assert "w0: mask is 100% foreground" in _messages(report.findings, "warning")[0]
    assert not report.ok and "ERROR: all 3 masks are 100%" in report.to_text()


def test_all_white_masks_stop_train_before_any_checkpoint(tmp_path, capsys):
    data = _dataset(
        tmp_path / "data", {f"w{i}": np.full((64, 64), 255, np.uint8) for i in range(4)}
    )
    run = tmp_path / "run"
    code = main(["train", str(data), "--out", str(run), "--preset", "tiny"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("sagegan train: error: ") and str(data) in err
    assert "100% foreground" in err
    assert not (run / "checkpoints").exists() and not (run / "last.json").exists()


def test_inverted_mask_warns_inverted_or_rgb(tmp_path):
    data = _dataset(tmp_path, {"good": _particles(), "inverted": 255 - _particles()})
    report = check_dataset(data, progress=False)
    (message,) = _messages(report.findings)
    assert message.startswith("inverted: mask is 88% foreground: looks inverted or all particle")
    assert "RGB" in message
    assert report.ok  # a warning; only --strict fails on it


def test_rgb_mask_with_white_background_warns(tmp_path):
    rgb = np.full((64, 64, 3), 255, np.uint8)
    rgb[_particles() > 0] = (255, 0, 0)  # red particles on white: every pixel reads as particle
    data = _dataset(tmp_path, {"good": _particles(), "rgb": rgb})
    report = check_dataset(data, progress=False)
    (message,) = _messages(report.findings)
    assert message.startswith("rgb: mask is 100% foreground") and "RGB" in message


def test_tiny_image_is_too_small_to_validate_on(tmp_path):
    data = _dataset(tmp_path, {"good": _particles(), "dot": np.full((1, 1), 255, np.uint8)})
    report = check_dataset(data, progress=False)
    assert any(
        m.startswith("dot: image 1x1 is under 32 px on a side: too small to validate on")
        for m in _messages(report.findings)
    )
    split = find_degenerate(
        [mask_stats("good", _particles()), mask_stats("dot", np.ones((1, 1), np.int32))],
        patch_size=64,
        val_stems={"dot"},
    )
    assert "dot: validation image 1x1 is under 32 px on a side" in _messages(split)[-1]
    assert len(split) == 2  # and its mask is all foreground; no patch warning (evaluated whole)


def test_image_smaller_than_patch_warns(tmp_path):
    data = _dataset(tmp_path, {"big": _particles(), "small": _particles((40, 50))})
    assert check_dataset(data, progress=False).findings == []
    report = check_dataset(data, progress=False, patch_size=(64, 64))
    assert _messages(report.findings) == [
        "small: image 40x50 is smaller than the training patch 64x64: it will be padded"
    ]


def test_patch_far_larger_than_every_image_is_an_error(tmp_path):
    stats = [mask_stats("a", _particles((128, 128))), mask_stats("b", _particles((100, 200)))]
    padded = find_degenerate(stats, patch_size=(256, 256))  # 4x the largest image: padded
    assert [f.severity for f in padded] == ["warning", "warning"]
    findings = find_degenerate(stats, patch_size=(4096, 4096))
    assert [f.severity for f in findings] == ["error", "warning", "warning"]
    assert "training patch 4096x4096 is over 4x the area of the largest training image" in str(
        findings[0]
    )


def test_train_refuses_a_patch_of_mostly_padding_before_training(tmp_path):
    from sagegan.train import config_from_cli, train

    data = _dataset(tmp_path / "data", {f"p{i}": _particles() for i in range(4)})
    config = config_from_cli("tiny", None, {"data.patch_size": [4096, 4096]})
    with pytest.raises(DataError, match=r"set data\.patch_size no larger than the images"):
        train(data, tmp_path / "run", config)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_speck_masks(tmp_path):
    specks = np.zeros((64, 64), np.uint8)
    specks[10, 10] = specks[30, 40] = specks[50, 20:22] = 255
    data = _dataset(tmp_path, {"s1": specks, "s2": specks})
    report = check_dataset(data, progress=False)
    errors = _messages(report.findings, "error")
    assert len(errors) == 1 and errors[0].startswith("every mask's particles are specks of at")
    assert "s1: all 3 particle(s) of the mask are specks" in _messages(report.findings)[1]
    assert not report.ok
    # among normal masks, a speck mask is a warning only
    labelled = {"s": ndimage.label(specks)[0], "p": ndimage.label(_particles())[0]}
    mixed = find_degenerate(labelled.items())
    assert [f.severity for f in mixed] == ["warning"] and mixed[0].stem == "s"


def test_check_cli_strict_and_json(tmp_path, capsys):
    data = _dataset(tmp_path / "data", {"good": _particles(), "inverted": 255 - _particles()})
    out = tmp_path / "report.json"
    assert main(["check", str(data), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Data findings:" in text and "warning: inverted: mask is 88% foreground" in text
    saved = json.loads(out.read_text())
    assert saved["findings"] == [
        {"stem": "inverted", "severity": "warning", "message": saved["findings"][0]["message"]}
    ]
    assert main(["check", str(data), "--strict"]) == 1
    assert "--strict" in capsys.readouterr().out
    assert main(["check", str(data), "--patch-size", "128"]) == 0
    assert "smaller than the training patch 128x128" in capsys.readouterr().out


def test_train_logs_warnings_once_before_training(tmp_path, monkeypatch, caplog):
    from sagegan.train import api, config_from_cli

    masks = {f"inv{i}": 255 - _particles() for i in range(8)}
    data = _dataset(tmp_path / "data", masks)

    def stop(*args, **kwargs):
        raise RuntimeError("training would start here")

    monkeypatch.setattr(api, "_training_dataset", stop)
    with caplog.at_level(logging.WARNING, logger="sagegan"), pytest.raises(RuntimeError):
        api.train(data, tmp_path / "run", config_from_cli("tiny", None, {}))
    lines = [r.getMessage() for r in caplog.records if r.name == "sagegan"]
    assert len(lines) == 6, lines
    assert all("mask is 88% foreground: looks inverted" in line for line in lines[:5])
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    read = len(split["train"]) + len(split["val"])  # the test images are never read
    assert lines[5].startswith(f"... and {read - 5} more data warnings")
    assert not any(line.startswith(tuple(split["test"])) for line in lines)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_train_raises_one_line_data_error_for_specks(tmp_path):
    from sagegan.train import config_from_cli, train

    specks = np.zeros((64, 64), np.uint8)
    specks[10, 10] = 255
    data = _dataset(tmp_path / "data", {f"s{i}": specks for i in range(4)})
    with pytest.raises(DataError, match="specks") as caught:
        train(data, tmp_path / "run", config_from_cli("tiny", None, {}))
    assert "\n" not in str(caught.value)


def test_particles_too_small_for_simulated_masks_stop_before_training(tmp_path):
    """The GAN stage's simulator masks need particles of 2 px across: known before training."""
    from sagegan.errors import ConfigError
    from sagegan.train import config_from_cli, train

    tiny = np.zeros((64, 64), np.uint8)
    for row in range(4, 60, 6):
        for col in range(4, 60, 6):
            tiny[row, col : col + 2] = tiny[row + 1, col] = 255  # 3-px particles: not specks
    data = _dataset(tmp_path / "data", {f"t{i}": tiny for i in range(4)})
    sources = {"gan.mask_sources": {"real": 1.0, "simulator": 1.0}}
    with pytest.raises(ConfigError, match="too small for simulated masks"):
        train(data, tmp_path / "run", config_from_cli("tiny", None, sources))
    assert not (tmp_path / "run").exists()
