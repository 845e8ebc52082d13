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

import numpy as np
import pytest
import torch

import sagegan
from conftest import Killed, log_without_timings
from sagegan.models import run_folder
from sagegan.models.checkpoint import load_weights, resolve_checkpoint
from sagegan.synth import write_dataset
from sagegan.train import checkpointing
from sagegan.train.api import train
from sagegan.train.config import config_from_cli
from sagegan.train.pretrain import PretrainStage

NETS = ("segmenter", "generator", "d_image", "d_mask")
OVERRIDES = {
    "runtime.grid_every": 100,
    "runtime.attention_every": 100,
    "pretrain.epochs": 3,
    "gan.epochs": 3,
    "gan.mask_sources": {"real": 1.0, "rearranged": 1.0, "simulator": 1.0},
    "gan.mix_max": 0.7,
}


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
    assert log_without_timings(resumed) == log_without_timings(straight)
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


def test_a_channels_last_run_resumed_equals_uninterrupted(data_dir, tmp_path, monkeypatch):
    overrides = {**OVERRIDES, "runtime.channels_last": True}
    straight, run = tmp_path / "straight", tmp_path / "run"
    layouts = []
    original_step = PretrainStage.train_step

    def spy(self, batch, step):
        # a 3x3 kernel over several channels: contiguous in only one of the two layouts
        conv = next(p for p in self.live.parameters() if p.dim() == 4 and min(p.shape[1:]) > 1)
        layouts.append(conv.is_contiguous(memory_format=torch.channels_last))
        return original_step(self, batch, step)

    with monkeypatch.context() as patch:
        patch.setattr(PretrainStage, "train_step", spy)
        train(data_dir, straight, config_from_cli("tiny", None, overrides))
    assert layouts and all(layouts)
    with monkeypatch.context() as patch:
        _interrupt_at_save(patch, 2, None)
        with pytest.raises(Killed):
            train(data_dir, run, config_from_cli("tiny", None, overrides))
    train(data_dir, run, None, resume=True)
    _assert_same_run(run, straight)


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


# A child that dies by SIGKILL in the middle of its k-th write of one kind: "checkpoint" (files
# written by the atomic writer: weights, state, pointers) or "log" (appends to log.jsonl). Half the
# bytes reach the file, then the process is killed, as a power cut or the OOM killer would.
DYING_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import sagegan.data.atomic_files, sagegan.train.run_log
    from sagegan.train.api import train
    from sagegan.train.config import config_from_cli

    data, run, kind, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    module, mode = {{
        "checkpoint": (sagegan.data.atomic_files, "wb"),
        "log": (sagegan.train.run_log, "a"),
    }}[kind]
    calls = [0]

    class Dying:
        def __init__(self, handle):
            self.handle = handle
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)
        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        def __getattr__(self, name):
            return getattr(self.handle, name)

    def dying_open(path, open_mode="r", *args, **kwargs):
        handle = open(path, open_mode, *args, **kwargs)
        if open_mode == mode:
            calls[0] += 1
            if calls[0] == kill_at:
                return Dying(handle)
        return handle

    module.open = dying_open
    config = None if (sys.argv[5] == "resume") else config_from_cli("tiny", None, {overrides!r})
    train(data, run, config, resume=sys.argv[5] == "resume")
    """
)


def _record_writes(data_dir: Path, run: Path, monkeypatch) -> list[str]:
    """The kinds of the writes an uninterrupted run makes, in order ("checkpoint" or "log")."""
    import sagegan.data.atomic_files
    import sagegan.train.run_log

    events = []
    for kind, module, mode in (
        ("checkpoint", sagegan.data.atomic_files, "wb"),
        ("log", sagegan.train.run_log, "a"),
    ):

        def recording_open(path, open_mode="r", *args, _kind=kind, _mode=mode, **kwargs):
            if open_mode == _mode:
                events.append(_kind)
            return open(path, open_mode, *args, **kwargs)

        monkeypatch.setattr(module, "open", recording_open, raising=False)
    train(data_dir, run, config_from_cli("tiny", None, OVERRIDES))
    return events


def _kill_points(events: list[str], n: int, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` random (k-th checkpoint write, j-th log append after resuming) pairs: j never exceeds
    the appends that follow the k-th write, which a resumed run makes at least once more."""
    later_appends, appends, candidates = [], 0, []
    for kind in reversed(events):
        appends += kind == "log"
        if kind == "checkpoint":
            later_appends.append(appends)
    later_appends.reverse()  # appends after the k-th checkpoint write, k = index + 1
    candidates = [k for k, after in enumerate(later_appends, start=1) if after >= 1 and k >= 2]
    rng = np.random.default_rng(seed)
    points = rng.choice(candidates, n, replace=False)
    return [(int(k), int(rng.integers(1, later_appends[k - 1] + 1))) for k in points]


def _die_at(data_dir: Path, run: Path, kind: str, kill_at: int, how: str, script: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(sagegan.__file__).parents[1])}
    command = [sys.executable, str(script), str(data_dir), str(run), kind, str(kill_at), how]
    done = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


def test_sigkill_mid_checkpoint_write_and_mid_log_append_then_resume(
    data_dir, straight_run, tmp_path, monkeypatch
):
    """Five runs, each killed mid-write of a random checkpoint file, resumed and killed again
    mid-append of a random log record, then resumed to the end: each equals the straight run."""
    with monkeypatch.context() as patch:
        events = _record_writes(data_dir, tmp_path / "recorded", patch)
    assert events.count("checkpoint") > 10 and events.count("log") >= 6
    script = tmp_path / "dying.py"
    script.write_text(DYING_CHILD.format(overrides=OVERRIDES))
    for index, (at_write, at_append) in enumerate(_kill_points(events, 5)):
        run = tmp_path / f"run{index}"
        _die_at(data_dir, run, "checkpoint", at_write, "train", script)
        _die_at(data_dir, run, "log", at_append, "resume", script)
        train(data_dir, run, None, resume=True)
        _assert_same_run(run, straight_run)


def _reached_gan(run: Path) -> bool:
    try:
        return json.loads((run / "last.json").read_text())["stage"] == "gan"
    except (OSError, ValueError, KeyError):
        return False
