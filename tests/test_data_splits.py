"""Deterministic train/val/test splits, k-fold splits and their JSON files."""

from __future__ import annotations

import json
import os
import random
import warnings

import pytest

from sagegan.data.splits import (
    SplitWarning,
    groups_from_pattern,
    kfold_splits,
    load_or_create_split,
    load_split,
    make_grouped_split,
    make_split,
    save_split,
)
from sagegan.errors import ConfigError, DataError

STEMS = [f"img_{i:03d}" for i in range(40)]


def test_split_is_independent_of_input_order():
    shuffled = STEMS.copy()
    random.Random(1).shuffle(shuffled)
    assert make_split(STEMS, seed=3) == make_split(shuffled, seed=3)


def test_split_parts_are_disjoint_complete_and_sized():
    split = make_split(STEMS, seed=0, val_fraction=0.2, test_fraction=0.1)
    assert len(split.val) == 8 and len(split.test) == 4 and len(split.train) == 28
    assert sorted(split.train + split.val + split.test) == STEMS == split.stems
    assert split.train == sorted(split.train)


def test_different_seeds_give_different_splits():
    assert make_split(STEMS, seed=0).test != make_split(STEMS, seed=1).test


def test_adding_a_stem_moves_few_others():
    before = make_split(STEMS, seed=0, val_fraction=0.0, test_fraction=0.25)
    after = make_split([*STEMS, "img_new"], seed=0, val_fraction=0.0, test_fraction=0.25)
    assert len(set(before.test) & set(after.test)) >= len(before.test) - 1


@pytest.mark.parametrize("n", [3, 4, 5])
def test_small_datasets_get_one_val_image(n):
    split = make_split(STEMS[:n], seed=0)
    assert len(split.val) == 1 and len(split.test) == 1 and len(split.train) == n - 2


@pytest.mark.parametrize(
    ("stems", "kwargs"),
    [
        (STEMS, {"val_fraction": 0.6, "test_fraction": 0.5}),
        (STEMS, {"val_fraction": -0.1}),
        (STEMS[:2], {"val_fraction": 0.5, "test_fraction": 0.5}),
        (["a", "a", "b"], {}),
    ],
)
def test_bad_split_requests(stems, kwargs):
    with pytest.raises(ConfigError):
        make_split(stems, **kwargs)


def test_kfold_shares_test_set_and_covers_rest():
    splits = kfold_splits(STEMS, k=4, seed=2, test_fraction=0.15)
    test = make_split(STEMS, seed=2, test_fraction=0.15).test
    assert all(s.test == test for s in splits)
    vals = [stem for s in splits for stem in s.val]
    assert sorted(vals) == sorted(set(STEMS) - set(test))
    for s in splits:
        assert not set(s.val) & set(s.train)
        assert sorted(s.train + s.val + s.test) == STEMS
    assert [s.fold for s in splits] == [0, 1, 2, 3] and splits[0].n_folds == 4
    with pytest.raises(ConfigError):
        kfold_splits(STEMS, k=1)


def test_save_and_load_roundtrip(tmp_path):
    split = kfold_splits(STEMS, k=3, seed=5)[1]
    path = tmp_path / "run" / "split.json"
    save_split(split, path)
    assert load_split(path) == split
    data = json.loads(path.read_text())
    assert data["format"] == "sagegan-split" and data["version"] == 1
    assert [file.name for file in path.parent.iterdir()] == ["split.json"]  # no temporary left


def test_two_processes_saving_one_split_at_once_both_succeed(tmp_path, monkeypatch):
    """Seeds of a benchmark started side by side write the same split file: the other process
    renames its temporary file into place between this one's write and rename."""
    split = kfold_splits(STEMS, k=3, seed=5)[1]
    path = tmp_path / "split.json"
    replace = os.replace
    pid = os.getpid()

    def replace_after_the_other_process(source, target):
        if os.getpid() == pid:
            monkeypatch.setattr(os, "getpid", lambda: pid + 1)
            save_split(split, path)  # the other process, in the middle of this save
        replace(source, target)

    monkeypatch.setattr(os, "replace", replace_after_the_other_process)
    save_split(split, path)
    assert load_split(path) == split
    assert [file.name for file in tmp_path.iterdir()] == ["split.json"]


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"format": "other"}),
        json.dumps({"format": "sagegan-split", "version": 99}),
        json.dumps(
            {"format": "sagegan-split", "version": 1, "train": ["a"], "val": "b", "test": []}
        ),
        json.dumps(
            {
                "format": "sagegan-split",
                "version": 1,
                "seed": 0,
                "train": ["a"],
                "val": ["a"],
                "test": [],
            }
        ),
    ],
)
def test_malformed_split_files(tmp_path, content):
    path = tmp_path / "split.json"
    path.write_text(content)
    with pytest.raises(DataError) as excinfo:
        load_split(path)
    assert str(path) in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_load_or_create_creates_then_reloads(tmp_path):
    path = tmp_path / "split.json"
    created = load_or_create_split(path, STEMS, seed=4)
    assert path.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_or_create_split(path, list(reversed(STEMS)), seed=4) == created


def test_reload_with_stems_missing_from_dataset_raises(tmp_path):
    path = tmp_path / "split.json"
    load_or_create_split(path, STEMS)
    with pytest.raises(DataError, match="1 split stems are not in the dataset: img_000"):
        load_or_create_split(path, STEMS[1:])


def test_reload_with_new_stems_warns(tmp_path):
    path = tmp_path / "split.json"
    created = load_or_create_split(path, STEMS)
    with pytest.warns(SplitWarning, match="1 images are not in any part of the split: extra"):
        reloaded = load_or_create_split(path, [*STEMS, "extra"])
    assert reloaded == created


def test_reload_with_other_settings_warns_and_keeps_file(tmp_path):
    path = tmp_path / "split.json"
    created = load_or_create_split(path, STEMS, seed=0)
    with pytest.warns(SplitWarning, match="using the saved split"):
        assert load_or_create_split(path, STEMS, seed=9) == created


def test_grouped_split_puts_every_group_in_test_and_keeps_one_to_train() -> None:
    groups = {f"graphite_{i}": "graphite" for i in range(3)}
    groups |= {f"ngc_{i}": "ngc" for i in range(2)}
    groups |= {f"large_{i}": "large" for i in range(10)}
    groups |= {"single_0": "single"}
    split = make_grouped_split(list(groups), groups, seed=0, val_fraction=0.18, test_fraction=0.24)
    group_sets = {
        part: {groups[s] for s in stems}
        for part, stems in (("train", split.train), ("val", split.val), ("test", split.test))
    }
    assert group_sets["test"] == {"graphite", "ngc", "large"}
    assert group_sets["val"] == {"graphite", "large"}
    assert group_sets["train"] == {"graphite", "ngc", "large", "single"}
    assert sorted(split.train + split.val + split.test) == sorted(groups)
    assert sum(groups[s] == "large" for s in split.test) == 2
    again = make_grouped_split(
        list(reversed(groups)), groups, seed=0, val_fraction=0.18, test_fraction=0.24
    )
    assert again == split
    assert make_grouped_split(list(groups), groups, seed=1).test != split.test


def test_groups_from_pattern_uses_the_first_group_and_names_misfits() -> None:
    stems = ["graphite_0", "graphite10_1", "ngc_2"]
    assert groups_from_pattern(stems, r"^([a-z]+\d*)_") == {
        "graphite_0": "graphite",
        "graphite10_1": "graphite10",
        "ngc_2": "ngc",
    }
    assert groups_from_pattern(["a_1", "b_2"], r"^[a-z]") == {"a_1": "a", "b_2": "b"}
    with pytest.raises(ConfigError, match="does not match the stem 'ngc_2'"):
        groups_from_pattern(stems, r"^graphite")
    with pytest.raises(ConfigError, match="bad group pattern"):
        groups_from_pattern(stems, "(")
