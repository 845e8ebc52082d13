"""Resume: a run interrupted at any point (even SIGKILL mid-write) and resumed ends bit-identical
to an uninterrupted run on CPU with a fixed seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import sagegan
from sagegan.models import run_folder
from sagegan.models.checkpoint import load_weights, resolve_checkpoint
from sagegan.synth import write_dataset
from sagegan.train import checkpointing
from sagegan.train.api import train
from sagegan.train.config import config_from_cli

NETS = ("segmenter", "generator", "d_image", "d_mask")
OVERRIDES = {
    "runtime.grid_every": 100,
    "runtime.attention_every": 100,
    "pretrain.epochs": 3,
    "gan.epochs": 3,
    "gan.mask_sources": {"real": 1.0, "rearranged": 1.0, "simulator": 1.0},
    "gan.mix_max": 0.7,
}


class Killed(BaseException):
    """Stands for the process dying (nothing in the trainer catches a BaseException)."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, n=10, size=(64, 64), seed=1, progress=False)
    return root


@pytest.fixture(scope="module")
def straight_run(data_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("straight") / "run"
    train(data_dir, run, config_from_cli("tiny", None, OVERRIDES))
    return run


def _final_weights(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    folder = resolve_checkpoint(run, "last")
    return {net: load_weights(folder / f"{net}.safetensors")[0] for net in NETS}


def _log_without_timings(run: Path) -> list[dict]:
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    for record in records:
        record.pop("seconds", None)
    return records


def _assert_same_run(resumed: Path, straight: Path) -> None:
    expected, actual = _final_weights(straight), _final_weights(resumed)
    for net in NETS:
        assert expected[net].keys() == actual[net].keys()
        for key, value in expected[net].items():
            assert torch.equal(actual[net][key], value), f"{net}.{key} differs"
    for which in ("best", "best-pretrain", "best-gan", "last"):
        expected_pointer = json.loads((straight / f"{which}.json").read_text())
        actual_pointer = json.loads((resumed / f"{which}.json").read_text())
        for key in ("checkpoint", "epoch", "metrics"):
            assert actual_pointer[key] == expected_pointer[key], (which, key)
    assert _log_without_timings(resumed) == _log_without_timings(straight)
    folders = sorted(p.name for p in (resumed / "checkpoints").iterdir())
    assert folders == sorted(p.name for p in (straight / "checkpoints").iterdir())


def _interrupt_at_save(monkeypatch, save_index: int, dies_writing: str | None) -> None:
    """Die right after the ``save_index``-th checkpoint, or while it writes ``dies_writing``."""
    original_save = checkpointing.Checkpointer.save
    originals = {
        "write_bytes_atomic": checkpointing.write_bytes_atomic,
        "write_json_atomic": checkpointing.write_json_atomic,
    }
    calls = {"n": 0}

    def dying(name):
        def write(path, data):
            if Path(path).name == dies_writing:
                raise Killed
            originals[name](path, data)

        return write

    def save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == save_index and dies_writing is not None:
            for name in originals:
                monkeypatch.setattr(checkpointing, name, dying(name))
        original_save(self, *args, **kwargs)
        if calls["n"] == save_index:
            raise Killed

    monkeypatch.setattr(checkpointing.Checkpointer, "save", save)


@pytest.mark.parametrize(
    ("save_index", "dies_writing"),
    [(1, "best-pretrain.json"), (2, None), (3, None), (5, run_folder.STATE_FILE)],
    ids=["between-pointer-updates", "in-pretraining", "between-stages", "mid-write-in-gan"],
)
def test_interrupted_then_resumed_equals_uninterrupted(
    data_dir, straight_run, tmp_path, monkeypatch, save_index, dies_writing
):
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        _interrupt_at_save(patch, save_index, dies_writing)
        with pytest.raises(Killed):
            train(data_dir, run, config_from_cli("tiny", None, OVERRIDES))
    if dies_writing == "best-pretrain.json":  # last.json was replaced, the best pointer was not
        assert json.loads((run / "last.json").read_text())["epoch"] == 0
        assert not (run / "best-pretrain.json").exists()
    if dies_writing == run_folder.STATE_FILE:  # a half-written folder no pointer names
        last = json.loads((run / "last.json").read_text())
        assert (last["stage"], last["epoch"]) == ("gan", 0)
        assert (run / "checkpoints" / "gan-e0001").is_dir()
    train(data_dir, run, None, resume=True)
    _assert_same_run(run, straight_run)


CHILD = textwrap.dedent(
    """
    import sys
    from sagegan.train.api import train
    from sagegan.train.config import config_from_cli
    train(sys.argv[1], sys.argv[2], config_from_cli("tiny", None, {overrides!r}))
    """
)


def test_sigkill_mid_run_then_resume_equals_uninterrupted(data_dir, straight_run, tmp_path):
    run = tmp_path / "run"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(overrides=OVERRIDES))
    env = {**os.environ, "PYTHONPATH": str(Path(sagegan.__file__).parents[1])}
    child = subprocess.Popen(
        [sys.executable, str(script), str(data_dir), str(run)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not _reached_gan(run) and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    _, stderr = child.communicate()
    assert child.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    killed_at = json.loads((run / "last.json").read_text())
    assert killed_at["stage"] == "gan" and killed_at["epoch"] < 2  # killed before the end
    train(data_dir, run, None, resume=True)
    _assert_same_run(run, straight_run)


def _reached_gan(run: Path) -> bool:
    try:
        return json.loads((run / "last.json").read_text())["stage"] == "gan"
    except (OSError, ValueError, KeyError):
        return False
