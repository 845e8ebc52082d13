"""``evaluate_run``: score a trained model on one part of a dataset's split and write the results.

Each image of the split is loaded as training loaded it (`load_sample`: the databar cropped with
the model's training setting, intensities normalised alike, the mask cropped the same way and its
instances kept as annotated, without erosion), predicted at native resolution (`predict_tiled`),
split into instances (`split_instances`) and compared with its truth by
`sagegan.metrics.evaluate_image` under the chosen protocol. HD95 is in nm when the images are
calibrated, in px when none is (the summary's ``hd95_unit`` says which); a split mixing calibrated
and uncalibrated images is refused (`sagegan.data.calibration.folder_pixel_sizes`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import sagegan
from sagegan.data.calibration import folder_pixel_sizes
from sagegan.data.dataset import Sample, load_sample
from sagegan.data.pairing import Pair
from sagegan.errors import ConfigError, DataError
from sagegan.evaluate.outputs import write_outputs
from sagegan.evaluate.selection import select_pairs
from sagegan.evaluate.tables import MEAN_F1
from sagegan.infer.instances import split_instances
from sagegan.infer.options import PredictionOptions
from sagegan.metrics import default_thresholds, evaluate_image, summarize, threshold_key
from sagegan.metrics.protocol import PAPER_EMPTY_SCORE
from sagegan.metrics.scores import EMPTY_SCORE
from sagegan.models.checkpoint import (
    checkpoint_record,
    read_training_info,
    resolve_checkpoint,
    training_scale,
)
from sagegan.models.run_folder import SEGMENTER_FILE, RunFolder

LOGGER = logging.getLogger("sagegan")
Predictor = Callable[[Sample], np.ndarray]

EMPTY_NOTES = {
    "native": (
        "an image with neither true nor predicted foreground scores 1 on every pixel and object "
        "score and HD95 0; HD95 is undefined (NaN, counted apart) when only one side is empty"
    ),
    "paper": (
        "as the reference: an image with neither true nor predicted objects scores object F1 0 "
        "and pixel Dice 1; no HD95"
    ),
}
PROTOCOL_NOTES = {
    "native": (
        "native resolution, truth as annotated (no erosion), binary masks as 4-connected "
        "components; one-to-one Hungarian matching (StarDist) at each IoU threshold"
    ),
    "paper": (
        "reference protocol: resized to 512x768, truth eroded 2x2, objects < 15 px dropped, "
        "macro F1 at IoU 0.5"
    ),
}


@dataclass
class EvaluationResult:
    """Per-image rows, their summary and the files written (metrics, per_image, summary)."""

    rows: list[dict]
    summary: dict
    files: dict[str, Path]
    failures: list[tuple[Path, str]] = field(default_factory=list)


def _weights_and_info(model: str | Path, which: str) -> tuple[Path, dict[str, Any]]:
    """The segmenter weights ``model`` designates and the training info.json next to them
    ({} for a bare weights file)."""
    location = resolve_checkpoint(model, which)
    weights = location if location.is_file() else location / SEGMENTER_FILE
    return weights, read_training_info(weights)


def _model_predictor(
    model: str | Path, options: PredictionOptions, split_options: dict[str, float]
) -> tuple[Predictor, dict[str, Any]]:
    """The predictor of the model's ``options.which`` segmenter and its backend info."""
    runner, info = options.load(model)
    scale = training_scale(read_training_info(Path(info["path"])))

    def predict(sample: Sample) -> np.ndarray:
        prediction = options.predict(runner, sample.image, scale)
        return split_instances(
            prediction.probability,
            options.threshold,
            **prediction.instance_maps,
            **split_options,
        )

    return predict, info


def _pixel_sizes(
    pairs: Sequence[Pair], pixel_size_nm: float | None, failures: list[tuple[Path, str]]
) -> tuple[dict[Path, float], str]:
    """HD95 scale per readable image and its unit under the one calibration rule
    (`folder_pixel_sizes`): nm when the images are calibrated, px when none is (a mix is
    refused); images whose metadata cannot be read join ``failures``."""
    sizes = folder_pixel_sizes([pair.image for pair in pairs], pixel_size_nm, failures)
    if all(size is not None for size in sizes.values()):
        return {path: size.nm for path, size in sizes.items()}, "nm"
    return dict.fromkeys(sizes, 1.0), "px"


def _score_images(
    pairs: Sequence[Pair],
    pixel_sizes: dict[Path, float],
    predictor: Predictor,
    options: PredictionOptions,
    databar: Any,
    protocol: str,
    thresholds: Sequence[float],
    progress: bool,
    failures: list[tuple[Path, str]],
) -> tuple[list[dict], list[Pair]]:
    """Score every pair whose image was calibrated; a pair that cannot be read joins
    ``failures`` (logged, and not in the numbers). Returns the rows and the pairs scored."""
    rows, scored = [], []
    jobs = [pair for pair in pairs if pair.image in pixel_sizes]
    for pair in tqdm(jobs, desc="evaluating", unit="img", disable=not progress):
        try:
            sample = load_sample(pair, databar, options.pixel_size_nm)
        except DataError as err:  # an unreadable image or mask: skipped, and said
            message = str(err) if str(pair.image) in str(err) else f"{pair.image}: {err.problem}"
            failures.append((pair.image, message))
            LOGGER.error("skipped %s", message)
            continue
        prediction = predictor(sample)
        try:  # a prediction that does not fit its image is a bug in the predictor: stop
            row = evaluate_image(
                prediction, sample.labels, protocol, thresholds, pixel_sizes[pair.image], pair.stem
            )
        except DataError as err:
            raise DataError(pair.image, err.problem) from None
        rows.append(_with_mean_f1(row, thresholds))
        scored.append(pair)
    return rows, scored


def _settings(
    options: PredictionOptions, info: dict[str, Any], backend_info: dict[str, Any] | None
) -> dict[str, Any]:
    """The prediction settings record (`PredictionOptions.settings`) and who predicted: the
    model (``backend_info`` of its loaded backend) or a custom predictor (no backend)."""
    if backend_info is None:
        return {**options.settings(info), "backend": None, "predictor": "custom"}
    return {**options.settings(info, backend_info.get("onnx")), "predictor": "model"}


def _chosen_split(
    model: str | Path | None, info: dict[str, Any], split: str, split_file: str | Path | None
) -> Path | None:
    """The split file to read: ``split_file``, else the model's; None for the "all" part."""
    if split == "all":
        return None
    if split_file is not None:
        return Path(split_file)
    return None if model is None else RunFolder(model).training_split(info)


def _with_mean_f1(row: dict, thresholds: Sequence[float]) -> dict:
    if len(thresholds) < 2:
        return row
    return {**row, MEAN_F1: float(np.mean([row[threshold_key("f1", t)] for t in thresholds]))}


def _summary(rows: list[dict], protocol: str, thresholds: Sequence[float], hd95_unit: str) -> dict:
    empty_score = PAPER_EMPTY_SCORE if protocol == "paper" else EMPTY_SCORE
    summary = {"protocol": protocol, "thresholds": list(thresholds), **summarize(rows, empty_score)}
    if len(thresholds) > 1:
        pooled = [summary[threshold_key("f1", t) + "_pooled"] for t in thresholds]
        summary[f"{MEAN_F1}_pooled"] = float(np.mean(pooled))
    if protocol == "native":
        summary["hd95_unit"] = hd95_unit
    return summary


def evaluate_run(
    model: str | Path | None,
    data_dir: str | Path,
    *,
    out: str | Path,
    options: PredictionOptions | None = None,
    split: str = "test",
    split_file: str | Path | None = None,
    protocol: str = "native",
    progress: bool = True,
    mask_dir: str | None = None,
    predictor: Predictor | None = None,
) -> EvaluationResult:
    """Evaluate a trained model on the ``split`` part ("test", "val", "train" or "all") of the
    pairs in ``data_dir`` and write metrics.json, per_image.csv and summary.md into ``out``.

    ``model``: run folder (its ``options.which`` checkpoint), checkpoint folder or weights file.
    ``options`` (default `PredictionOptions()`): tiling, threshold, instance split, device,
    backend, databar (None: the model's training setting) and pixel size (the HD95 unit; images
    are calibrated by `folder_pixel_sizes`). ``split_file``: default the split the model was
    trained with. ``mask_dir`` picks the mask folder (e.g. "labels" for a simulator's exact
    instances).
    ``predictor`` replaces the model's prediction: it maps a loaded `Sample` to instance labels
    (or a binary mask) of its image; the model then only supplies the split and databar setting,
    and may be None when ``split_file`` is given (or ``split`` is "all"): a method without a
    model, such as the classical baseline.
    """
    options = PredictionOptions() if options is None else options
    thresholds = default_thresholds(protocol)  # raises ConfigError for an unknown protocol
    if predictor is None:
        options.run_device()  # an unusable device is an error before any work
    if model is None and (predictor is None or (split_file is None and split != "all")):
        raise ConfigError("evaluating without a model needs a predictor and a split file")
    weights, info = (None, {}) if model is None else _weights_and_info(model, options.which)
    chosen_split = _chosen_split(model, info, split, split_file)
    pairs = select_pairs(data_dir, split, chosen_split, mask_dir)
    failures: list[tuple[Path, str]] = []
    pixel_sizes, hd95_unit = _pixel_sizes(pairs, options.pixel_size_nm, failures)
    databar = options.databar_for(info)
    backend_info = None
    if predictor is None:
        options = options.resolved()
        split_options = options.split_options_for(info)
        predictor, backend_info = _model_predictor(model, options, split_options)
    settings = _settings(options, info, backend_info)
    rows, scored = _score_images(
        pairs, pixel_sizes, predictor, options, databar, protocol, thresholds, progress, failures
    )
    if not rows:
        raise DataError(Path(data_dir), f"no image could be evaluated ({failures[0][1]})")
    summary = _summary(rows, protocol, thresholds, hd95_unit)
    record = {
        "sagegan_version": sagegan.__version__,
        "protocol": protocol,
        "model": None if weights is None else str(weights),
        "checkpoint": checkpoint_record(info),
        "data_dir": str(data_dir),
        "split": split,
        "split_file": None if chosen_split is None else str(chosen_split),
        "stems": [pair.stem for pair in scored],
        "failed": [{"image": str(path), "error": message} for path, message in failures],
        "settings": settings,
        "hd95_unit": summary.get("hd95_unit"),
    }
    notes = _notes(protocol, hd95_unit, thresholds)
    if failures:
        notes.append(
            f"{len(failures)} image(s) could not be evaluated and are not in these numbers: "
            + ", ".join(path.name for path, _ in failures)
        )
    files = write_outputs(Path(out), record, rows, summary, notes)
    LOGGER.info("evaluated %d images; results in %s", len(rows), out)
    return EvaluationResult(rows=rows, summary=summary, files=files, failures=failures)


def _notes(protocol: str, hd95_unit: str, thresholds: Sequence[float]) -> list[str]:
    notes = [f"protocol {protocol!r}: {PROTOCOL_NOTES[protocol]}", EMPTY_NOTES[protocol]]
    if protocol == "native":
        calibrated = "every image is calibrated" if hd95_unit == "nm" else "not all calibrated"
        notes.append(f"HD95 in {hd95_unit} ({calibrated})")
    if len(thresholds) > 1:
        notes.append(
            f"mean F1: F1 averaged over IoU thresholds {thresholds[0]:.2f}..{thresholds[-1]:.2f} "
            "(per image, then over images; pooled: average of the pooled F1s)"
        )
    return notes
