"""Attention figures of a tiny trained run: the evolution figure (Fig. 6) and overlays (Fig. 7)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sagegan.errors import ConfigError, DataError
from sagegan.report import attention_evolution, attention_overlays


@pytest.fixture
def trained(tiny_run):
    """(data folder, run folder) of a tiny run that saved the maps of 2 validation images at
    every epoch of both stages."""
    return tiny_run


def _saved_files(run_dir) -> list[str]:
    """Attention files in training order (pretraining first), read from the folder directly."""
    names = sorted(path.name for path in (run_dir / "attention").glob("*.npz"))
    return [name for name in names if name.startswith("pretrain")] + [
        name for name in names if name.startswith("gan")
    ]


def _png_size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
        return image.size


def test_evolution_shows_first_middle_and_last_saved_epochs(trained, tmp_path):
    _, run = trained
    saved = _saved_files(run)
    assert len(saved) >= 4  # both stages saved maps
    figure = attention_evolution(run, tmp_path / "evolution.png")
    expected = [saved[0], saved[(len(saved) - 1) // 2], saved[-1]]
    assert [snap.path.name for snap in figure.snapshots] == expected
    assert figure.snapshots[0].label == "pretrain ep 1"
    assert figure.snapshots[-1].label.startswith("gan ep ")
    split = json.loads((run / "split.json").read_text())
    assert len(figure.stems) == 2
    assert set(figure.stems) <= set(split["val"])
    width, height = _png_size(figure.path)
    assert width > height > 0


def test_evolution_figure_grows_with_columns_and_rows(trained, tmp_path):
    _, run = trained
    two = _png_size(attention_evolution(run, tmp_path / "a.png", count=2).path)
    four = _png_size(attention_evolution(run, tmp_path / "b.png", count=4).path)
    one_row = _png_size(attention_evolution(run, tmp_path / "c.png", max_images=1).path)
    two_rows = _png_size(attention_evolution(run, tmp_path / "d.png", max_images=2).path)
    assert four[0] > two[0] and four[1] == two[1]
    assert two_rows[1] > one_row[1] and two_rows[0] == one_row[0]


def test_evolution_stage_and_explicit_epochs(trained, tmp_path):
    _, run = trained
    gan_files = [name for name in _saved_files(run) if name.startswith("gan")]
    figure = attention_evolution(run, tmp_path / "gan.png", stage="gan", count=2)
    assert [snap.path.name for snap in figure.snapshots] == [gan_files[0], gan_files[-1]]
    figure = attention_evolution(run, tmp_path / "pick.png", epochs=["gan:1", "pretrain:2"])
    assert [snap.label for snap in figure.snapshots] == ["gan ep 1", "pretrain ep 2"]
    figure = attention_evolution(run, tmp_path / "ints.png", epochs=[2], stage="pretrain")
    assert [snap.path.name for snap in figure.snapshots] == ["pretrain_epoch_0001.npz"]
    with pytest.raises(ConfigError, match="ambiguous"):
        attention_evolution(run, tmp_path / "x.png", epochs=[1])
    with pytest.raises(ConfigError, match="gan epoch 99"):
        attention_evolution(run, tmp_path / "x.png", epochs=["gan:99"])


def test_evolution_without_attention_files_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no attention maps"):
        attention_evolution(tmp_path, tmp_path / "evolution.png")
    (tmp_path / "attention").mkdir()
    with pytest.raises(ConfigError, match="no attention maps"):
        attention_evolution(tmp_path, tmp_path / "evolution.png")
    assert not (tmp_path / "evolution.png").exists()


def test_corrupt_attention_file_is_named(tmp_path):
    broken = tmp_path / "attention" / "pretrain_epoch_0000.npz"
    broken.parent.mkdir()
    broken.write_bytes(b"not a zip archive")
    with pytest.raises(DataError, match=r"pretrain_epoch_0000\.npz"):
        attention_evolution(tmp_path, tmp_path / "evolution.png")
    np.savez(broken, stems=np.array(["a"]), image_0=np.zeros((4, 4)))
    with pytest.raises(DataError, match="attention_0"):
        attention_evolution(tmp_path, tmp_path / "evolution.png")


def test_overlays_cover_validation_images_only(trained, tmp_path):
    data, run = trained
    split = json.loads((run / "split.json").read_text())
    written = attention_overlays(run, data, tmp_path / "overlays")
    per_image, combined = written[:-1], written[-1]
    stems = [path.name.removesuffix("_overlay.png") for path in per_image]
    assert sorted(stems) == sorted(split["val"])
    assert not set(stems) & set(split["test"])
    assert sorted(path.name for path in (tmp_path / "overlays").iterdir()) == sorted(
        path.name for path in written
    )
    both = _png_size(combined)
    assert _png_size(per_image[0])[1] < both[1]  # one row vs two
    limited = attention_overlays(run, data, tmp_path / "one", max_images=1)
    assert len(limited) == 2
    assert _png_size(limited[-1])[1] < both[1]
    with pytest.raises(ConfigError, match="test split"):
        attention_overlays(run, data, tmp_path / "test", split="test")
