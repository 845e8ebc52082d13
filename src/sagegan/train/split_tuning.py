"""Choosing a trained model's instance split on its validation images.

Two settings of the distance-transform split (`sagegan.infer.instances.split_instances`) depend on
how the network draws particles, which the plan cannot know before training: the smallest object
kept (``min_size_px``, fixed or scaled per image by ``min_size_fraction``) and the seed depth
(``min_depth_px``). A network that draws necks between touching particles needs deep seeds; one
that leaves gaps between them needs none (EMPS gained 0.10 F1@0.5 from a 9 px depth, tio2_sem
lost 0.10 with 6 px; docs/accuracy.md section 5).

After training, each best checkpoint (``best``, ``best-pretrain``, ``best-gan``), and the last
one when `sagegan.train.final_choice` compares it with them, predicts every validation image
once; every candidate split (the run's sizes times ``SIZE_FACTORS``, the depths
``DEPTH_CANDIDATES_PX`` and the run's own, each depth with the run's size scaled per image by
``SCALED_MIN_SIZE_FRACTION``, and that scaled size with the seed depth scaled per image by each of
``DEPTH_FRACTIONS``) is scored by mean object F1@0.5. The best candidate replaces the run's
settings only when it beats them by ``MIN_GAIN`` (a few validation images are noisy). The
choice and its table go into the checkpoint's ``info.json`` under ``TUNED_SPLIT_KEY``, where
`segment`, `evaluate` and `analyze` find it (`sagegan.infer.instances.run_split_options`); a
choice made from fewer candidates than today's (before a kind of candidate was added) is made
again when the run is resumed. The test split is never read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from sagegan.data.atomic_files import write_json_atomic
from sagegan.infer.instances import SCALED_MIN_SIZE_FRACTION, TUNED_SPLIT_KEY, split_instances
from sagegan.infer.tiling import Prediction
from sagegan.metrics.objects import match_instances
from sagegan.models.checkpoint import load_model, read_training_info, training_scale
from sagegan.models.run_folder import CheckpointFolder, RunFolder
from sagegan.train.config import InstanceConfig
from sagegan.train.runtime import Runtime
from sagegan.train.validation import inference_copy, predict_probabilities

LOGGER = logging.getLogger("sagegan")
DEPTH_CANDIDATES_PX = (1.0, 2.0, 4.0, 8.0, 16.0)
SIZE_FACTORS = (0.5, 1.0, 2.0)
# seed depth x the typical inscribed radius; EMPS validation F1 peaked at 0.15-0.25 (section 10)
DEPTH_FRACTIONS = (0.15, 0.25, 0.35)
MIN_GAIN = 0.005
SPLIT_KEYS = (
    "min_size_px",
    "min_distance_px",
    "min_depth_px",
    "min_size_fraction",
    "min_depth_fraction",
)


@dataclass
class SplitTuning:
    """The split settings chosen on ``images`` validation images, the run's settings they started
    from, and every candidate's mean F1@0.5 and predicted object count."""

    chosen: dict[str, float]
    planned: dict[str, float]
    rows: list[dict[str, float]]
    images: int

    def summary(self) -> str:
        """One line: what changed and by how much validation F1 moved."""
        scores = {_key(row): row["f1@0.5"] for row in self.rows}
        before, after = scores[_key(self.planned)], scores[_key(self.chosen)]
        return (
            f"instance split chosen on {self.images} validation images: smallest object "
            f"{self.planned['min_size_px']:g} -> {self.chosen['min_size_px']:g} px, seed depth "
            f"{self.planned['min_depth_px']:g} -> {self.chosen['min_depth_px']:g} px, scaled "
            f"{self.planned['min_size_fraction']:g} -> {self.chosen['min_size_fraction']:g}, "
            f"depth scaled {self.planned['min_depth_fraction']:g} -> "
            f"{self.chosen['min_depth_fraction']:g}, F1@0.5 {before:.3f} -> {after:.3f}"
        )


def _key(options: dict[str, Any]) -> tuple[float, ...]:
    """The settings of a split; one recorded before a setting existed has it off (0)."""
    return tuple(float(options.get(name, 0.0)) for name in SPLIT_KEYS)


def candidate_splits(planned: dict[str, float]) -> list[dict[str, float]]:
    """Every setting to score: the planned one, its neighbours in size and seed depth (seeds at
    a fixed depth), at the planned size each depth with the smallest object scaled per image
    (``SCALED_MIN_SIZE_FRACTION``), and that scaled size with each of ``DEPTH_FRACTIONS``."""
    fixed = {**planned, "min_depth_fraction": 0.0}
    sizes = sorted({round(planned["min_size_px"] * factor) for factor in SIZE_FACTORS})
    depths = sorted({*DEPTH_CANDIDATES_PX, float(planned["min_depth_px"])})
    scaled = {**fixed, "min_size_fraction": SCALED_MIN_SIZE_FRACTION}
    rows = [
        planned,
        *(
            {**fixed, "min_size_px": size, "min_depth_px": depth}
            for size in sizes
            for depth in depths
        ),
        *({**scaled, "min_depth_px": depth} for depth in depths),
        *({**scaled, "min_depth_fraction": fraction} for fraction in DEPTH_FRACTIONS),
    ]
    unique: dict[tuple[float, ...], dict[str, float]] = {}
    for row in rows:
        unique.setdefault(_key(row), {name: row.get(name, 0.0) for name in SPLIT_KEYS})
    return list(unique.values())


def choose_split(rows: Sequence[dict[str, float]], planned: dict[str, float]) -> dict[str, float]:
    """The best-scoring row's settings (ties: the shallower seeds, then the smaller size, then
    no scaling) when it beats ``planned`` by ``MIN_GAIN``; else ``planned``."""
    baseline = next(row["f1@0.5"] for row in rows if _key(row) == _key(planned))
    best = max(
        rows,
        key=lambda row: (
            row["f1@0.5"],
            -row["min_depth_px"],
            -row["min_size_px"],
            -row["min_size_fraction"],
            -row["min_depth_fraction"],
        ),
    )
    if best["f1@0.5"] < baseline + MIN_GAIN:
        return dict(planned)
    return {name: best[name] for name in SPLIT_KEYS}


def tune_split(
    segmenter: nn.Module,
    samples: Sequence[Any],
    runtime: Runtime,
    instances: InstanceConfig,
    scale: float = 1.0,
) -> SplitTuning:
    """Score every candidate split of ``instances`` on ``samples`` (with ``image`` and
    ``labels``); the network runs once per image, at the working resolution ``scale``."""
    model = inference_copy(segmenter)
    return tune_split_of(
        lambda image: predict_probabilities(model, image, runtime, scale),
        samples,
        instances.split_options(),
    )


def tune_split_of(
    predict: Callable[[np.ndarray], Prediction],
    samples: Sequence[Any],
    planned: dict[str, float],
) -> SplitTuning:
    """`tune_split` for any predictor of an image's maps (e.g. an ensemble), from the split
    settings ``planned``."""
    candidates = candidate_splits(planned)
    f1 = np.zeros((len(candidates), len(samples)))
    predicted = np.zeros(len(candidates), dtype=np.int64)
    # candidates whose first pass is the same one come one after another
    order = sorted(range(len(candidates)), key=lambda row: _first_pass(candidates[row]))
    for column, sample in enumerate(samples):
        prediction = predict(sample.image)
        truth = np.asarray(sample.labels)
        passes_done: dict = {}  # candidates share passes (the scaled ones their first)
        for row in order:
            options = candidates[row]
            labels = split_instances(
                prediction.probability,
                **prediction.instance_maps,
                **options,
                passes_done=passes_done,
            )
            f1[row, column] = match_instances(truth, labels, thresh=0.5).f1
            predicted[row] += int(labels.max())
    rows = [
        {**options, "f1@0.5": float(f1[row].mean()), "predicted": int(predicted[row])}
        for row, options in enumerate(candidates)
    ]
    return SplitTuning(choose_split(rows, planned), planned, rows, len(samples))


def _first_pass(options: dict[str, float]) -> tuple[float, float]:
    """The smallest object and seed depth of a split's first pass (the scaled settings change
    only its second)."""
    return (options["min_size_px"], options["min_depth_px"])


def tune_checkpoint(
    folder: Path, samples: Sequence[Any], runtime: Runtime, instances: InstanceConfig
) -> SplitTuning | None:
    """Tune the split of the checkpoint ``folder`` and record it in its ``info.json``; None when
    it already holds a choice scored on every candidate of today (a resumed or shared one)."""
    files = CheckpointFolder(folder)
    info = read_training_info(files.weights())
    if _tuned_with(info.get(TUNED_SPLIT_KEY), instances):
        return None
    model, _ = load_model(folder, map_location=runtime.device)
    tuning = tune_split(model, samples, runtime, instances, training_scale(info))
    write_json_atomic(files.info_path(), {**info, TUNED_SPLIT_KEY: asdict(tuning)})
    return tuning


def tune_run(
    run_dir: str | Path, samples: Sequence[Any], runtime: Runtime, instances: InstanceConfig
) -> dict[str, SplitTuning]:
    """Tune each best checkpoint of ``run_dir`` that has no choice yet (call on rank 0).
    Returns the new choices by pointer name."""
    tuned: dict[str, SplitTuning] = {}
    for which, folder in RunFolder(run_dir).best_checkpoints():
        tuning = tune_checkpoint(folder, samples, runtime, instances)
        if tuning is not None:
            LOGGER.info("%s (%s)", tuning.summary(), which)
            tuned[which] = tuning
    return tuned


def tuned_f1(info: dict[str, Any]) -> float | None:
    """The validation F1@0.5 of a checkpoint's chosen split (``info``: its training info);
    None when its split was not tuned."""
    record = info.get(TUNED_SPLIT_KEY)
    if record is None:
        return None
    chosen = _key(record["chosen"])
    return next((float(row["f1@0.5"]) for row in record["rows"] if _key(row) == chosen), None)


def _tuned_with(record: dict[str, Any] | None, instances: InstanceConfig) -> bool:
    """Whether a recorded tuning scored every candidate that ``instances`` gives today."""
    if record is None:
        return False
    scored = {_key(row) for row in record.get("rows", [])}
    return all(_key(row) in scored for row in candidate_splits(instances.split_options()))
