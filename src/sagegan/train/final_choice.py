"""The final choice between a stage's best checkpoint and its last one, made on the tuned split.

During training every epoch is scored with the run's planned instance split, and the best
pointers name the epoch that scored highest. After training the split is tuned on the same
validation images (`sagegan.train.split_tuning`), and under the tuned split the epochs can rank
otherwise: on EMPS (60-minute budget, seed 2) the seventh of ten epochs led at the planned split
(validation F1@0.5 0.469 against the last epoch's 0.442) while the last led at the tuned one
(0.777 against 0.747), and it scored 0.840 / 0.678 Dice / F1@0.5 on the test split against
0.821 / 0.634 (docs/accuracy.md section 22). So when the run's last checkpoint is not its best,
its split is tuned too, and each best pointer (``best-<stage>`` of the last checkpoint's stage,
and ``best``) moves to it when its tuned validation F1@0.5 beats the one the pointer names by
``MIN_GAIN``. Only runs selected on F1@0.5 are compared this way (the tuning scores F1@0.5);
the moved pointer records both scores under ``FINAL_CHOICE_KEY``. The test split is never read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sagegan.data.atomic_files import write_json_atomic
from sagegan.models.checkpoint import read_training_info
from sagegan.models.run_folder import CheckpointFolder, RunFolder, best_pointer
from sagegan.train.checkpointing import Checkpointer
from sagegan.train.config import InstanceConfig
from sagegan.train.runtime import Runtime
from sagegan.train.split_tuning import MIN_GAIN, tune_checkpoint, tuned_f1

LOGGER = logging.getLogger("sagegan")
TUNED_METRIC = "f1@0.5"
FINAL_CHOICE_KEY = "chosen_on_tuned_split"


def _tuned_score(run: RunFolder, which: str) -> float | None:
    folder = CheckpointFolder(run.checkpoint(which))
    return tuned_f1(read_training_info(folder.weights()))


def _rivals(run: RunFolder, last: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The best pointers (by name) that name another checkpoint than ``last`` and select on
    F1@0.5."""
    rivals = {}
    for which in (best_pointer(last["stage"]), "best"):
        pointer = run.read_pointer(which)
        if (
            pointer is not None
            and pointer["checkpoint"] != last["checkpoint"]
            and pointer.get("metric") == TUNED_METRIC
        ):
            rivals[which] = pointer
    return rivals


def choose_final_checkpoint(
    run_dir: str | Path, samples: Sequence[Any], runtime: Runtime, instances: InstanceConfig
) -> list[str]:
    """Move the best pointers of ``run_dir`` whose tuned validation F1@0.5 the last checkpoint
    beats by ``MIN_GAIN`` to it, after `split_tuning.tune_run` (call on rank 0). Returns the
    pointers moved."""
    run = RunFolder(run_dir)
    last = run.read_pointer("last")
    if last is None or last.get("metric") != TUNED_METRIC:
        return []
    rivals = _rivals(run, last)
    if not rivals:
        return []
    tune_checkpoint(run.checkpoint("last"), samples, runtime, instances)
    last_f1 = _tuned_score(run, "last")
    moved: dict[str, float] = {}
    for which, rival in rivals.items():
        rival_f1 = _tuned_score(run, which)
        if last_f1 is None or rival_f1 is None or last_f1 < rival_f1 + MIN_GAIN:
            continue
        over = {"stage": rival["stage"], "epoch": rival["epoch"], TUNED_METRIC: rival_f1}
        choice = {TUNED_METRIC: last_f1, "over": over}
        write_json_atomic(run.pointer_path(which), {**last, FINAL_CHOICE_KEY: choice})
        moved[which] = rival_f1
    if moved:
        LOGGER.info(
            "the last checkpoint (%s epoch %d) is now %s: validation F1@0.5 at its tuned split "
            "%.3f against %s",
            last["stage"],
            last["epoch"] + 1,
            ", ".join(moved),
            last_f1,
            " / ".join(sorted({f"{score:.3f}" for score in moved.values()})),
        )
        Checkpointer(run_dir, runtime).collect_garbage()
    return list(moved)
