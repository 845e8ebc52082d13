"""The `segment` job: run a trained model over image files and write masks, instances and a JSON.

Per input image ``<stem>`` the output folder receives

* ``<stem>_mask.png``: binary mask ``probability > threshold``, 0/255 uint8;
* ``<stem>_prob.tif``: foreground probability, float32;
* ``<stem>_boundary.tif``: boundary probability, float32; only for models with an instance head;
* ``<stem>_labels.tif``: instance labels, uint16 (uint32 beyond 65535 particles); objects
  smaller than ``min_size_px`` are in the mask but not here (the JSON gives both fractions);
* ``<stem>_attention.png``: the finest attention-gate map as a heat map (matplotlib colormap,
  alpha ``OVERLAY_ALPHA``) over the grayscale image, RGB; only for networks with gates;
* ``<stem>.json``: what was done and found (see `_image_record`).

Images are read, cropped and normalised exactly as training read them (`load_sample`): the databar
mode is the model's training setting unless overridden, the intensities are mapped by the same
percentiles. All outputs cover the *cropped* image, i.e. rows ``0 .. shape[0] - 1`` of the source;
the JSON states how many bottom rows (the databar) were cropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from PIL import Image
from tqdm import tqdm

import sagegan
from sagegan.data.dataset import Sample, load_sample
from sagegan.data.io import write_image, write_labels, write_mask
from sagegan.data.pairing import Pair, find_images
from sagegan.errors import DataError, SageganError
from sagegan.infer.backends import InferenceBackend
from sagegan.infer.instances import split_instances
from sagegan.infer.options import PredictionOptions
from sagegan.infer.tiling import Prediction
from sagegan.models.checkpoint import read_training_info, write_json_atomic

LOGGER = logging.getLogger("sagegan")
OVERLAY_COLORMAP = "inferno"
OVERLAY_ALPHA = 0.4
OVERLAY_BLOCK_ROWS = 256


@dataclass
class ImageResult:
    """One segmented image: its stem, source file, written files and particle count."""

    stem: str
    source: Path
    files: dict[str, Path]
    particle_count: int


@dataclass
class SegmentFailure:
    """An input that could not be segmented, with the one-line reason (naming the file)."""

    source: Path
    message: str


@dataclass
class SegmentSummary:
    """Outcome of `segment_images`: the images written and the inputs skipped."""

    out: Path
    model: Path
    results: list[ImageResult] = field(default_factory=list)
    failures: list[SegmentFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every input was segmented (the CLI exits non-zero otherwise)."""
        return not self.failures


def attention_overlay(image: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """RGB uint8 heat map of ``attention`` ([0, 1]) blended over a [-1, 1] grayscale image.

    Built ``OVERLAY_BLOCK_ROWS`` rows at a time in float32 from the colormap's lookup table (the
    colours matplotlib itself gives), so a large image needs little more than the uint8 result.
    """
    colormap = colormaps[OVERLAY_COLORMAP]
    lut = colormap(np.arange(colormap.N))[:, :3].astype(np.float32) * np.float32(OVERLAY_ALPHA)
    overlay = np.empty((*image.shape, 3), dtype=np.uint8)
    for top in range(0, image.shape[0], OVERLAY_BLOCK_ROWS):
        rows = slice(top, top + OVERLAY_BLOCK_ROWS)
        gray = (np.clip(image[rows], -1.0, 1.0, dtype=np.float32) + 1.0) * np.float32(
            (1.0 - OVERLAY_ALPHA) / 2.0
        )
        level = np.clip(attention[rows], 0.0, 1.0, dtype=np.float32) * colormap.N
        index = np.minimum(level.astype(np.intp), colormap.N - 1)
        blended = lut[index] + gray[..., None]
        overlay[rows] = np.round(blended * np.float32(255.0))
    return overlay


def _expand_inputs(inputs: Sequence[str | Path], failures: list[SegmentFailure]) -> list[Path]:
    """Images of every input, de-duplicated; inputs matching nothing and files whose stem is
    already taken (their outputs would overwrite each other) become failures."""
    images: list[Path] = []
    seen: set[Path] = set()
    stems: dict[str, Path] = {}
    for item in inputs:
        try:
            found = find_images([item])
        except DataError as err:
            failures.append(SegmentFailure(Path(item), str(err)))
            continue
        for path in found:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            if path.stem in stems:
                message = (
                    f"{path}: stem {path.stem!r} is already used by {stems[path.stem]}; "
                    "outputs would overwrite each other"
                )
                failures.append(SegmentFailure(path, message))
                continue
            stems[path.stem] = path
            images.append(path)
    return images


def segment_images(
    inputs: Sequence[str | Path],
    model_path: str | Path,
    out: str | Path,
    options: PredictionOptions | None = None,
    progress: bool = True,
) -> SegmentSummary:
    """Segment every image of ``inputs`` (files, folders, globs) with a trained model.

    ``model_path`` is a run folder (its ``options.which`` checkpoint), a checkpoint folder or a
    weights file. ``options`` (default `PredictionOptions()`) hold the tiling, threshold,
    instance-split, device, backend, databar and pixel-size choices; options left None take the
    model's training settings. An input that cannot be read or segmented is logged (one line
    naming the file) and skipped; the summary lists it. An unusable device raises ConfigError
    before any work.
    """
    options = PredictionOptions() if options is None else options
    run_on = options.run_device()
    out = Path(out)
    failures: list[SegmentFailure] = []
    images = _expand_inputs(inputs, failures)
    runner, info = options.load(model_path, run_on)
    weights = Path(info["path"])
    training_info = read_training_info(weights)
    settings = {
        **options.settings(training_info, info.get("onnx")),
        "model": str(weights),
        "model_name": info.get("model"),
        "checkpoint": {"stage": info.get("stage"), "epoch": info.get("epoch")},
    }
    summary = SegmentSummary(out=out, model=weights, failures=failures)
    for failure in failures:
        LOGGER.error("skipped %s", failure.message)
    out.mkdir(parents=True, exist_ok=True)
    for path in tqdm(images, desc="segmenting", unit="img", disable=not progress):
        try:
            sample, prediction, labels = _predict_one(path, runner, options, settings)
        except SageganError as err:
            message = str(err) if str(path) in str(err) else f"{path}: {err}"
            LOGGER.error("skipped %s", message)
            summary.failures.append(SegmentFailure(path, message))
            continue
        files = _write_outputs(
            out, sample.stem, sample.image, prediction, labels, options.threshold
        )
        record = _image_record(sample, labels, prediction.probability, files, settings)
        files["json"] = out / f"{sample.stem}.json"
        write_json_atomic(files["json"], record)
        summary.results.append(ImageResult(sample.stem, path, files, record["particle_count"]))
    return summary


def _predict_one(
    path: Path, runner: InferenceBackend, options: PredictionOptions, settings: dict[str, Any]
) -> tuple[Sample, Prediction, np.ndarray]:
    """One image loaded with the resolved databar mode, predicted and split into instances."""
    sample = load_sample(Pair(path.stem, path, None), settings["databar"], options.pixel_size_nm)
    prediction = options.predict(runner, sample.image)
    labels = split_instances(
        prediction.probability,
        options.threshold,
        boundary=prediction.boundary,
        **settings["instances"],
    )
    return sample, prediction, labels


def _write_outputs(
    out: Path,
    stem: str,
    image: np.ndarray,
    prediction: Prediction,
    labels: np.ndarray,
    threshold: float,
) -> dict[str, Path]:
    files = {
        "mask": out / f"{stem}_mask.png",
        "probability": out / f"{stem}_prob.tif",
        "labels": out / f"{stem}_labels.tif",
    }
    write_mask(files["mask"], prediction.probability > threshold)
    write_image(files["probability"], prediction.probability)
    write_labels(files["labels"], labels)
    if prediction.boundary is not None:
        files["boundary"] = out / f"{stem}_boundary.tif"
        write_image(files["boundary"], prediction.boundary)
    if prediction.attention is not None:
        files["attention"] = out / f"{stem}_attention.png"
        overlay = attention_overlay(image, prediction.attention)
        Image.fromarray(overlay, mode="RGB").save(files["attention"])
    return files


def _image_record(
    sample: Sample,
    labels: np.ndarray,
    probability: np.ndarray,
    files: dict[str, Path],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The per-image JSON: source, geometry (outputs cover the cropped image), calibration,
    counts, the settings used and the files written."""
    height, width = sample.image.shape
    threshold = settings["threshold"]
    return {
        "stem": sample.stem,
        "source": str(sample.image_path.resolve()),
        "sagegan_version": sagegan.__version__,
        "shape": [height, width],
        "source_shape": [height + sample.databar_rows, width],
        "databar_rows": sample.databar_rows,
        "outputs_cover": (
            f"source rows 0..{height - 1} and all {width} columns; the bottom "
            f"{sample.databar_rows} rows (databar) were cropped"
        ),
        "pixel_size_nm": None if sample.pixel_size is None else sample.pixel_size.nm,
        "pixel_size_source": None if sample.pixel_size is None else sample.pixel_size.source,
        "particle_count": int(labels.max(initial=0)),
        "foreground_fraction": float(np.mean(probability > threshold)),
        "instance_foreground_fraction": float(np.mean(labels > 0)),
        **settings,
        "files": {name: path.name for name, path in files.items()},
    }
