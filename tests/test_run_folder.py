"""The run-folder layout (`RunFolder`, `CheckpointFolder`): paths, epoch-file naming and parsing,
pointers, and that no other module spells the names it owns."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import sagegan
from sagegan.errors import ConfigError, DataError
from sagegan.models.builtin import builtin_checkpoint
from sagegan.models.run_folder import (
    POINTERS,
    CheckpointFolder,
    RunFolder,
    epoch_file_name,
    parse_epoch_file_name,
)

PACKAGE_ROOT = Path(sagegan.__file__).parent
OWNER = Path("models") / "run_folder.py"
# names only the RunFolder module may spell: file names (and the epoch-file fragment) anywhere in
# a string, folder names and the stage-pointer prefix when they are the whole string
OWNED_ANYWHERE = (
    "config.yaml",
    "split.json",
    "data.json",
    "plan.json",
    "log.jsonl",
    "best.json",
    "last.json",
    "best-pretrain.json",
    "best-gan.json",
    "info.json",
    "state.pt",
    ".safetensors",
    "_epoch_",
)
OWNED_WHOLE = ("checkpoints", "grids", "tensorboard", "best-")
ALLOWED = {
    # sagegan.data comes before sagegan.models (it cannot import the constant): an example name
    # for any split file in the error for a folder given as a split file
    ("data/splits.py", "split.json"),
    # the CLI modules stay torch-free at import (sagegan.models loads torch) and name these only
    # in help texts: the file `sagegan split --out` writes and where a planned run keeps its plan
    ("cli.py", "split.json"),
    ("commands/train.py", "plan.json"),
}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def owned_names_in(source: str) -> set[str]:
    """The owned names spelled in the string literals (f-string parts included, docstrings not)
    of ``source``."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in docstrings:
            continue
        found.update(name for name in OWNED_ANYWHERE if name in node.value)
        found.update(name for name in OWNED_WHOLE if name == node.value)
    return found


def test_the_scan_finds_owned_names_in_code_not_in_docstrings():
    source = '''
"""RUN/config.yaml and RUN/log.jsonl are documented here."""
def save(run, stage, epoch):
    """Writes RUN/grids/<stage>_epoch_XXXX.png."""
    (run / "grids" / f"{stage}_epoch_{epoch:04d}.png").touch()
    return run / "config.yaml", f"best-{stage}.json", run / "checkpoints/x/info.json"
'''
    assert owned_names_in(source) == {
        "grids",
        "_epoch_",
        "config.yaml",
        "best-",
        "info.json",
    }
    assert owned_names_in('"""Only a docstring: best.json, split.json."""') == set()


def test_only_the_run_folder_module_spells_the_run_folder_names():
    spelled = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        module = path.relative_to(PACKAGE_ROOT)
        if module == OWNER:
            continue
        for name in owned_names_in(path.read_text(encoding="utf-8")):
            if (module.as_posix(), name) not in ALLOWED:
                spelled.append(f"{module}: {name!r}")
    assert not spelled, spelled


def test_paths_of_the_run_files(tmp_path):
    run = RunFolder(tmp_path)
    names = {
        run.config_path(): "config.yaml",
        run.split_path(): "split.json",
        run.data_record_path(): "data.json",
        run.plan_path(): "plan.json",
        run.log_path(): "log.jsonl",
        run.tensorboard_dir(): "tensorboard",
        run.checkpoints_dir(): "checkpoints",
        run.pointer_path("best-gan"): "best-gan.json",
        run.grid_path("gan", 12): "grids/gan_epoch_0012.png",
        run.attention_stem("pretrain", 3): "attention/pretrain_epoch_0003",
    }
    for path, relative in names.items():
        assert path == tmp_path / relative
    assert run.figure_dirs() == (tmp_path / "attention", tmp_path / "grids")
    folder = run.checkpoint_folder("pretrain", 7)
    assert folder == tmp_path / "checkpoints" / "pretrain-e0007"
    assert run.pointer_entry(folder) == "checkpoints/pretrain-e0007"
    assert POINTERS == ("best", "last", "best-pretrain", "best-gan")


def test_checkpoint_folder_files(tmp_path):
    files = CheckpointFolder(tmp_path)
    assert files.weights() == tmp_path / "segmenter.safetensors"
    assert files.weights("generator") == tmp_path / "generator.safetensors"
    assert files.info_path() == tmp_path / "info.json"
    assert files.state_path() == tmp_path / "state.pt"


def test_epoch_file_names_round_trip():
    assert epoch_file_name("gan", 3, ".npz") == "gan_epoch_0003.npz"
    assert parse_epoch_file_name("gan_epoch_0003.npz", ".npz") == ("gan", 3)
    assert parse_epoch_file_name("pretrain_epoch_12345.png", ".png") == ("pretrain", 12345)
    others = ("gan_epoch_0003.png", "other_epoch_0003.npz", "gan_epoch_3.x.npz", "gan_epoch_.npz")
    for name in others:
        assert parse_epoch_file_name(name, ".npz") is None


def test_attention_snapshots_in_training_order(tmp_path):
    run = RunFolder(tmp_path)
    assert run.attention_snapshots() == []
    folder = tmp_path / "attention"
    folder.mkdir()
    names = ["gan_epoch_0001", "pretrain_epoch_0010", "pretrain_epoch_0000", "gan_epoch_0000"]
    for name in names:
        (folder / f"{name}.npz").write_bytes(b"")
        (folder / f"{name}.png").write_bytes(b"")  # the view beside each snapshot
    (folder / "other_epoch_0002.npz").write_bytes(b"")
    (folder / "gan_epoch_0009.npz").mkdir()  # not a file
    snapshots = run.attention_snapshots()
    assert [(snap.stage, snap.epoch) for snap in snapshots] == [
        ("pretrain", 0),
        ("pretrain", 10),
        ("gan", 0),
        ("gan", 1),
    ]
    assert snapshots[1].path == folder / "pretrain_epoch_0010.npz"
    assert [snap.label for snap in snapshots[:2]] == ["pretrain ep 1", "pretrain ep 11"]


def test_latest_grid_is_the_last_gan_epoch(tmp_path):
    run = RunFolder(tmp_path)
    assert run.latest_grid() is None
    for stage, epoch in [("pretrain", 30), ("gan", 2), ("gan", 10), ("pretrain", 4)]:
        path = run.grid_path(stage, epoch)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
    assert run.latest_grid() == tmp_path / "grids" / "gan_epoch_0010.png"


def test_the_run_holding_a_checkpoint(tmp_path):
    folder = RunFolder(tmp_path / "run").checkpoint_folder("gan", 1)
    folder.mkdir(parents=True)
    weights = CheckpointFolder(folder).weights("generator")
    weights.write_bytes(b"")
    for inside in (folder, weights):
        held = RunFolder.holding(inside)
        assert held is not None and held.root == tmp_path / "run"
    assert RunFolder.holding(builtin_checkpoint()) is None
    assert RunFolder.holding(tmp_path / "loose" / "segmenter.safetensors") is None


def test_pointers_name_checkpoints_of_their_run(tmp_path):
    run = RunFolder(tmp_path)
    assert run.read_pointer("best") is None and not run.has_pointer("best")
    with pytest.raises(DataError, match=r"missing best\.json"):
        run.checkpoint("best")
    with pytest.raises(ConfigError, match="unknown checkpoint 'worst'"):
        run.checkpoint("worst")
    folder = run.checkpoint_folder("pretrain", 0)
    run.pointer_path("best").write_text(json.dumps({"checkpoint": run.pointer_entry(folder)}))
    with pytest.raises(DataError, match="missing checkpoint folder"):
        run.checkpoint("best")
    folder.mkdir(parents=True)
    assert run.checkpoint("best") == folder
    assert run.read_pointer("best") == {"checkpoint": "checkpoints/pretrain-e0000"}
    run.pointer_path("last").write_text(json.dumps({"checkpoint": "../elsewhere"}))
    with pytest.raises(DataError, match="outside the run folder"):
        run.read_pointer("last")
    run.pointer_path("last").write_text(json.dumps(["checkpoints/pretrain-e0000"]))
    with pytest.raises(DataError, match="not a checkpoint pointer"):
        run.checkpoint("last")


def test_training_split_prefers_the_recorded_file(tmp_path):
    run = RunFolder(tmp_path / "run")
    recorded = tmp_path / "given.json"
    assert run.training_split({"split": str(recorded)}) is None
    run.root.mkdir()
    run.split_path().write_text("{}")
    assert run.training_split({"split": str(recorded)}) == run.split_path()
    assert run.training_split({}) == run.split_path()
    recorded.write_text("{}")
    assert run.training_split({"split": str(recorded)}) == recorded


def test_a_run_is_recognised_by_its_log_or_config(tmp_path):
    run = RunFolder(tmp_path)
    assert not run.looks_like_run()
    run.log_path().write_text("")
    assert run.looks_like_run()
    run.log_path().unlink()
    run.config_path().write_text("seed: 0\n")
    assert run.looks_like_run()
