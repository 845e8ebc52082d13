"""Pairing images with masks in the supported layouts, and expanding image inputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from sagegan.data.pairing import (
    Pair,
    UnpairedFilesWarning,
    find_images,
    find_label_files,
    find_pairs,
)
from sagegan.errors import MAX_LISTED_NAMES, DataError


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def _summary(pairs: list[Pair]) -> list[tuple[str, str, str | None]]:
    return [(p.stem, p.image.name, None if p.mask is None else p.mask.name) for p in pairs]


def test_images_and_masks_folders_pair_by_stem_any_extension(tmp_path):
    _touch(tmp_path, "images/b.tif", "images/a.PNG", "masks/a.png", "masks/b.png", "README.txt")
    pairs = find_pairs(tmp_path)
    assert _summary(pairs) == [("a", "a.PNG", "a.png"), ("b", "b.tif", "b.png")]
    assert pairs[0].image == tmp_path / "images" / "a.PNG"


def test_mask_folder_accepts_mask_suffix(tmp_path):
    _touch(tmp_path, "images/a.tif", "masks/a_mask.png")
    assert _summary(find_pairs(tmp_path)) == [("a", "a.tif", "a_mask.png")]


def test_labels_folder_used_when_no_masks_folder(tmp_path):
    _touch(tmp_path, "images/a.tif", "labels/a.tif")
    assert find_pairs(tmp_path)[0].mask == tmp_path / "labels" / "a.tif"


def test_masks_folder_preferred_and_mask_dir_selects(tmp_path):
    _touch(tmp_path, "images/a.tif", "masks/a.png", "labels/a.tif")
    assert find_pairs(tmp_path)[0].mask.parent.name == "masks"
    assert find_pairs(tmp_path, mask_dir="labels")[0].mask.parent.name == "labels"
    with pytest.raises(DataError, match="'other' not found"):
        find_pairs(tmp_path, mask_dir="other")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["x.tif", "x_mask.png"], ("x", "x.tif", "x_mask.png")),
        (["x.tif", "x_masks.tif"], ("x", "x.tif", "x_masks.tif")),
        (["3_image.png", "3_mask.png"], ("3", "3_image.png", "3_mask.png")),
        (["p_img.png", "p_img_mask.png"], ("p_img", "p_img.png", "p_img_mask.png")),
    ],
)
def test_single_folder_suffix_layouts(tmp_path, files, expected):
    _touch(tmp_path, *files)
    assert _summary(find_pairs(tmp_path)) == [expected]


def test_unpaired_files_listed_in_one_warning(tmp_path):
    _touch(tmp_path, "images/a.png", "images/b.png", "images/c.png", "masks/a.png", "masks/z.png")
    with pytest.warns(UnpairedFilesWarning) as record:
        pairs = find_pairs(tmp_path)
    assert len(record) == 1
    message = str(record[0].message)
    assert "3 unpaired" in message and "b.png" in message and "c.png" in message
    assert "z.png" in message
    assert [p.stem for p in pairs] == ["a"]


def test_many_unpaired_files_are_named_up_to_the_limit_then_counted(tmp_path):
    images = [f"images/img{i:02d}.png" for i in range(MAX_LISTED_NAMES + 3)]
    _touch(tmp_path, *images, "images/a.png", "masks/a.png", "masks/unrelated.png")
    with pytest.warns(UnpairedFilesWarning) as record:
        find_pairs(tmp_path)
    message = str(record[0].message)
    assert f"{MAX_LISTED_NAMES + 4} unpaired" in message
    assert f"img{MAX_LISTED_NAMES - 1:02d}.png" in message
    assert f"img{MAX_LISTED_NAMES:02d}.png" not in message
    assert "(and 4 more)" in message  # 13 images and one mask without a partner, 10 named


def test_strict_raises_listing_unpaired(tmp_path):
    _touch(tmp_path, "a.tif", "a_mask.png", "b.tif")
    with pytest.raises(DataError, match=r"b\.tif") as excinfo:
        find_pairs(tmp_path, strict=True)
    assert str(tmp_path) in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_require_masks_false_keeps_images_without_mask(tmp_path):
    _touch(tmp_path, "a.tif", "a_mask.png", "b.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pairs = find_pairs(tmp_path, require_masks=False)
    assert _summary(pairs) == [("a", "a.tif", "a_mask.png"), ("b", "b.tif", None)]


def test_images_only_folder_for_prediction(tmp_path):
    _touch(tmp_path, "images/a.tif", "images/b.tif")
    assert [p.mask for p in find_pairs(tmp_path, require_masks=False)] == [None, None]
    with pytest.raises(DataError, match="no masks/ or labels/"):
        find_pairs(tmp_path)


@pytest.mark.parametrize(
    "files",
    [
        ["images/a.png", "images/a.tif", "masks/a.png"],
        ["images/a.png", "masks/a.png", "masks/a.tif"],
        ["images/a.png", "masks/a.png", "masks/a_mask.png"],
        ["a.png", "a.tif", "a_mask.png"],
        ["a.tif", "a_mask.png", "a_mask.tif"],
    ],
)
def test_two_candidates_for_one_stem_raise(tmp_path, files):
    _touch(tmp_path, *files)
    with pytest.raises(DataError, match="two") as excinfo:
        find_pairs(tmp_path)
    assert str(tmp_path) in str(excinfo.value)


def test_empty_and_missing_folders_raise(tmp_path):
    with pytest.raises(DataError, match="no images"):
        find_pairs(tmp_path)
    with pytest.raises(DataError, match="not found"):
        find_pairs(tmp_path / "missing")


def test_masks_without_any_image_match_raise(tmp_path):
    _touch(tmp_path, "images/a.png", "masks/b.png")
    with pytest.raises(DataError, match="none of the 1 images has a mask"):
        find_pairs(tmp_path)


def test_hidden_and_non_image_files_ignored(tmp_path):
    _touch(tmp_path, "a.tif", "a_mask.png", ".DS_Store", "._a.tif", "a.txt", "notes.md")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _summary(find_pairs(tmp_path)) == [("a", "a.tif", "a_mask.png")]


def test_order_is_sorted_and_deterministic(tmp_path):
    names = ["m", "b", "z", "a", "k"]
    _touch(tmp_path, *[f"images/{n}.png" for n in names], *[f"masks/{n}.png" for n in names])
    assert [p.stem for p in find_pairs(tmp_path)] == sorted(names)


def test_real_dataset_layout(pdc_sem):
    pairs = find_pairs(pdc_sem, strict=True)
    assert len(pairs) == 17 and all(p.mask is not None for p in pairs)


# --- find_images ------------------------------------------------------------------------------


def test_find_images_expands_files_folders_and_globs(tmp_path):
    _touch(tmp_path, "d/b.png", "d/a.TIF", "d/notes.txt", "d/sub/c.png", "e/x.jpg", "f.bmp")
    found = find_images([tmp_path / "d", str(tmp_path / "e" / "*.jpg"), tmp_path / "f.bmp"])
    assert [p.name for p in found] == ["a.TIF", "b.png", "x.jpg", "f.bmp"]


def test_find_images_deduplicates(tmp_path):
    _touch(tmp_path, "d/a.png")
    found = find_images([tmp_path / "d", tmp_path / "d" / "a.png", str(tmp_path / "d" / "*")])
    assert found == [tmp_path / "d" / "a.png"]


def test_find_images_errors(tmp_path):
    _touch(tmp_path, "empty/notes.txt", "x.txt")
    with pytest.raises(DataError, match="no images"):
        find_images([tmp_path / "empty"])
    with pytest.raises(DataError, match="no images"):
        find_images([str(tmp_path / "*.png")])
    with pytest.raises(DataError, match="not a supported image"):
        find_images([tmp_path / "x.txt"])


def test_find_label_files_prefers_instance_labels(tmp_path: Path) -> None:
    for name in ["a_labels.tif", "a_mask.png", "a_prob.tif", "b.png", "c_mask.png", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    found = find_label_files(["a", "b", "c", "d"], tmp_path)
    assert {stem: path.name for stem, path in found.items()} == {
        "a": "a_labels.tif",
        "b": "b.png",
        "c": "c_mask.png",
    }
    (tmp_path / "b.tif").write_bytes(b"")
    with pytest.raises(DataError, match="two label files for image b"):
        find_label_files(["b"], tmp_path)
    with pytest.raises(DataError, match="label folder not found"):
        find_label_files(["a"], tmp_path / "missing")
