"""The final choice of a run's ``best`` checkpoint, made at each kept checkpoint's tuned split.

During training every epoch is scored with the run's planned instance split, and the best
pointers name the epochs that scored highest. After training the split is tuned on the same
validation images (`sagegan.train.split_tuning`), and under the tuned split the epochs can rank
otherwise: on EMPS (60-minute budget, seed 2) the seventh of ten epochs led at the planned split
(validation F1@0.5 0.469 against the last epoch's 0.442) while the last led at the tuned one
(0.777 against 0.747), and it scored 0.840 / 0.678 Dice / F1@0.5 on the test split against
0.821 / 0.634 (docs/accuracy.md section 22). So the last checkpoint's split is tuned too, and
``best`` moves to the kept checkpoint (``last``, ``best-pretrain``, ``best-gan``) with the highest
tuned validation F1@0.5 when that beats the one ``best`` names by ``MIN_GAIN``. The stage
pointers keep naming each stage's best epoch at the planned split, as the training state's
tracker does: the GAN stage (and the comparison's reuse of a finished pretraining) starts from
``best-pretrain`` whether or not the run ended after pretraining. Only runs selected on F1@0.5
are compared so (the tuning scores F1@0.5); the moved pointer records both scores under
``FINAL_CHOICE_KEY``. A run resumed for more epochs compares them with the moved ``best``'s
planned score, and chooses again when it ends. The test split is never read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sagegan.data.atomic_files import write_json_atomic
from sagegan.models.checkpoint import read_training_info
from sagegan.models.run_folder import (
    FINAL_CHOICE_KEY,
    FINAL_CHOICE_METRIC,
    CheckpointFolder,
    RunFolder,
    best_pointer,
    epoch_label,
)
from sagegan.train.config import InstanceConfig
from sagegan.train.runtime import Runtime
from sagegan.train.split_tuning import MIN_GAIN, tune_checkpoint, tuned_f1

LOGGER = logging.getLogger("sagegan")
CANDIDATES = ("last", best_pointer("pretrain"), best_pointer("gan"))


def _tuned_score(run: RunFolder, which: str) -> float | None:
    folder = CheckpointFolder(run.checkpoint(which))
    return tuned_f1(read_training_info(folder.weights()))


def _candidates(run: RunFolder, best: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pointers (by name) of ``CANDIDATES`` that name another checkpoint than ``best``,
    each checkpoint once, selected on F1@0.5."""
    found: dict[str, dict[str, Any]] = {}
    named = {best["checkpoint"]}
    for which in CANDIDATES:
        pointer = run.read_pointer(which)
        if (
            pointer is not None
            and pointer["checkpoint"] not in named
            and pointer.get("metric") == FINAL_CHOICE_METRIC
        ):
            found[which] = pointer
            named.add(pointer["checkpoint"])
    return found


def choose_final_checkpoint(
    run_dir: str | Path, samples: Sequence[Any], runtime: Runtime, instances: InstanceConfig
) -> str | None:
    """Point ``best`` of ``run_dir`` at the kept checkpoint whose tuned validation F1@0.5 beats
    the one it names by ``MIN_GAIN`` (the highest such), after `split_tuning.tune_run` (call on
    rank 0). Returns the name of the pointer it now copies, or None when it stays."""
    run = RunFolder(run_dir)
    best = run.read_pointer("best")
    if best is None or best.get("metric") != FINAL_CHOICE_METRIC:
        return None
    candidates = _candidates(run, best)
    for which in candidates:
        tune_checkpoint(run.checkpoint(which), samples, runtime, instances)
    best_f1 = _tuned_score(run, "best")
    ranked = [(score, w) for w in candidates if (score := _tuned_score(run, w)) is not None]
    if best_f1 is None or not ranked:
        return None
    score, which = max(ranked, key=lambda item: item[0])  # ties: the first of CANDIDATES
    if score < best_f1 + MIN_GAIN:
        return None
    over = {"stage": best["stage"], "epoch": best["epoch"], FINAL_CHOICE_METRIC: best_f1}
    choice = {FINAL_CHOICE_METRIC: score, "over": over}
    write_json_atomic(run.pointer_path("best"), {**candidates[which], FINAL_CHOICE_KEY: choice})
    LOGGER.info(
        "best is now the %s checkpoint (%s): validation F1@0.5 at its tuned split %.3f against "
        "%.3f for %s",
        which,
        pointer_label(candidates[which]),
        score,
        best_f1,
        pointer_label(best),
    )
    return which


def pointer_label(pointer: dict[str, Any]) -> str:
    """'pretrain epoch 7' (counted from 1, as training prints it) of a pointer or of the
    ``over`` record of a choice."""
    return epoch_label(pointer["stage"], pointer["epoch"], first=1)
