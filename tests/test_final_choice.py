"""After the split tuning, the best pointers move to the last checkpoint when it scores higher at
its own tuned split (`sagegan.train.final_choice`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.infer.instances import TUNED_SPLIT_KEY
from sagegan.models.checkpoint import resolve_checkpoint
from sagegan.train.config import InstanceConfig
from sagegan.train.final_choice import FINAL_CHOICE_KEY, choose_final_checkpoint
from sagegan.train.runtime import Runtime
from sagegan.train.split_tuning import MIN_GAIN, tuned_f1

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None)
LATER = "checkpoints/pretrain-e0050"


def _info(folder: Path) -> dict:
    return json.loads((folder / "info.json").read_text())


def _write_info(folder: Path, info: dict) -> None:
    (folder / "info.json").write_text(json.dumps(info))


def _scored(info: dict, f1: float) -> dict:
    """``info`` with every candidate of its tuned split scoring ``f1``."""
    record = info[TUNED_SPLIT_KEY]
    rows = [{**row, "f1@0.5": f1} for row in record["rows"]]
    return {**info, TUNED_SPLIT_KEY: {**record, "rows": rows}}


@pytest.fixture
def two_checkpoints(tiny_run: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    """(data, run, later checkpoint folder): a copy of the tiny run whose ``best`` and
    ``best-pretrain`` pointers name its best pretraining checkpoint and whose ``last`` pointer
    names a later pretraining epoch (a copy of it, without a tuned split); all select on F1@0.5."""
    data, shared = tiny_run
    run = tmp_path / "run"
    shutil.copytree(shared, run)
    best = resolve_checkpoint(run, "best-pretrain")
    later = run / LATER
    shutil.copytree(best, later)
    info = _info(later)
    info.pop(TUNED_SPLIT_KEY)
    _write_info(later, {**info, "epoch": 50})
    pointer = {**json.loads((run / "best-pretrain.json").read_text()), "metric": "f1@0.5"}
    for which in ("best", "best-pretrain"):
        (run / f"{which}.json").write_text(json.dumps(pointer))
    (run / "last.json").write_text(json.dumps({**pointer, "checkpoint": LATER, "epoch": 50}))
    return data, run, later


def _choose(data: Path, run: Path) -> str | None:
    samples = [load_sample(pair) for pair in find_pairs(data)][:2]
    instances = InstanceConfig(**_info(resolve_checkpoint(run, "best"))["config"]["instances"])
    return choose_final_checkpoint(run, samples, CPU, instances)


def test_the_last_checkpoint_is_tuned_when_it_is_not_the_best(two_checkpoints):
    data, run, later = two_checkpoints
    best_f1 = tuned_f1(_info(resolve_checkpoint(run, "best")))

    chosen = _choose(data, run)

    assert _info(later)[TUNED_SPLIT_KEY]["images"] == 2
    last_f1 = tuned_f1(_info(later))
    assert (chosen == "last") == (last_f1 >= best_f1 + MIN_GAIN)


@pytest.mark.parametrize(
    ("last_f1", "best_f1", "moves"),
    [(0.9, 0.2, True), (0.5 + MIN_GAIN / 2, 0.5, False), (0.4, 0.6, False)],
)
def test_best_moves_only_for_a_gain_of_min_gain(two_checkpoints, last_f1, best_f1, moves):
    data, run, later = two_checkpoints
    best = resolve_checkpoint(run, "best")
    _write_info(best, _scored(_info(best), best_f1))
    tuned = _scored({**_info(later), TUNED_SPLIT_KEY: _info(best)[TUNED_SPLIT_KEY]}, last_f1)
    _write_info(later, tuned)
    best_epoch = json.loads((run / "best.json").read_text())["epoch"]

    chosen = _choose(data, run)

    assert (chosen == "last") == moves
    assert (resolve_checkpoint(run, "best") == later) == moves
    assert resolve_checkpoint(run, "best-pretrain") == best  # the GAN stage would start there
    assert best.is_dir()
    if moves:
        choice = json.loads((run / "best.json").read_text())[FINAL_CHOICE_KEY]
        assert choice == {
            "f1@0.5": pytest.approx(last_f1),
            "over": {"stage": "pretrain", "epoch": best_epoch, "f1@0.5": pytest.approx(best_f1)},
        }
        assert _choose(data, run) is None  # the choice is made once


def test_best_moves_to_the_highest_of_the_kept_checkpoints(two_checkpoints):
    data, run, later = two_checkpoints
    best = resolve_checkpoint(run, "best")
    gan = run / "checkpoints/gan-e0003"
    shutil.copytree(best, gan)
    pointer = json.loads((run / "best.json").read_text())
    gan_pointer = {**pointer, "checkpoint": "checkpoints/gan-e0003", "stage": "gan", "epoch": 3}
    (run / "best-gan.json").write_text(json.dumps(gan_pointer))
    for folder, f1 in ((best, 0.2), (later, 0.6), (gan, 0.8)):
        record = {**_info(folder), TUNED_SPLIT_KEY: _info(best)[TUNED_SPLIT_KEY]}
        _write_info(folder, _scored(record, f1))

    assert _choose(data, run) == "best-gan"
    assert resolve_checkpoint(run, "best") == gan
    assert resolve_checkpoint(run, "last") == later


def test_the_report_says_how_best_was_chosen(two_checkpoints):
    from sagegan.report.headline import run_headline

    data, run, later = two_checkpoints
    best = resolve_checkpoint(run, "best")
    _write_info(best, _scored(_info(best), 0.2))
    _write_info(
        later, _scored({**_info(later), TUNED_SPLIT_KEY: _info(best)[TUNED_SPLIT_KEY]}, 0.9)
    )
    assert _choose(data, run) == "last"

    chosen_by = run_headline(run).run["chosen by"]

    assert chosen_by.startswith("highest validation F1@0.5 at each checkpoint's tuned")
    assert "(0.9 against 0.2 for pretrain epoch 0 (pretrain-e0000))" in chosen_by


def test_a_run_selected_on_another_metric_is_left_alone(two_checkpoints):
    data, run, later = two_checkpoints
    for which in ("best", "best-pretrain", "last"):
        path = run / f"{which}.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "metric": "dice"}))

    assert _choose(data, run) is None
    assert TUNED_SPLIT_KEY not in _info(later)  # not even tuned
    assert resolve_checkpoint(run, "best") != later


def test_train_says_which_checkpoint_it_kept_and_why(capsys: pytest.CaptureFixture[str]):
    from sagegan.commands.train import _print_best

    over = {"stage": "pretrain", "epoch": 6, "f1@0.5": 0.747}
    best = {
        "checkpoint": "checkpoints/pretrain-e0009",
        "epoch": 9,
        "metrics": {"dice": 0.875, "f1@0.5": 0.442},
        FINAL_CHOICE_KEY: {"f1@0.5": 0.777, "over": over},
    }

    _print_best(best, Path("RUN"))

    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "best checkpoint: pretrain-e0009 (validation dice 0.8750, f1@0.5 0.4420); run folder RUN"
    )
    assert lines[1] == (
        "kept over pretrain epoch 7: validation F1@0.5 at each one's tuned instance split "
        "0.7770 against 0.7470"
    )
