"""The `segment` job: run a trained model over image files and write masks, instances and a JSON.

Per input image ``<stem>`` the output folder receives, at the source image's size (the databar
rows, which are not segmented, are background) so that every file overlays the original in Fiji or
napari, TIFFs calibrated with the image's pixel size (ImageJ metadata, unit nm):

* ``<stem>_mask.png``: binary mask ``probability > threshold``, 0/255 uint8;
* ``<stem>_prob.tif``: foreground probability, float32;
* ``<stem>_boundary.tif``: boundary probability, float32; only for models with an instance head;
* ``<stem>_centre.tif``: the instance head's centre map (each particle's distance to its border
  over its largest), float32; only for models trained with ``data.centre_map``;
* ``<stem>_labels.tif``: instance labels, uint16 (uint32 beyond 65535 particles); objects
  smaller than ``min_size_px`` are in the mask but not here (the JSON gives both fractions);
* ``<stem>_outlines.png``: the instance outlines over the segmented image, with a scale bar when
  the image is calibrated;
* ``<stem>_attention.png``: the finest attention-gate map as a heat map (colormap
  ``OVERLAY_COLORMAP``, alpha ``OVERLAY_ALPHA``) over the segmented image with a colour bar;
  only for networks with gates;
* ``<stem>_rois.zip``: with ``rois``, one ImageJ polygon ROI per particle (Fiji's ROI Manager);
* ``<stem>.json``: what was done and found (see `_image_record`).

Images are read, cropped and normalised exactly as training read them (`load_sample`): the databar
mode is the model's training setting unless overridden, the intensities are mapped by the same
percentiles. The JSON states how many bottom rows (the databar) were left out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

import sagegan
from sagegan.data.atomic_files import write_json_atomic
from sagegan.data.dataset import Sample, load_sample
from sagegan.data.io import write_image, write_labels, write_mask
from sagegan.data.pairing import Pair, find_images
from sagegan.data.rois import write_roi_zip
from sagegan.errors import DataError, SageganError
from sagegan.infer.annotate import add_colour_bar, add_scale_bar
from sagegan.infer.backends import InferenceBackend
from sagegan.infer.domain import DomainGuard
from sagegan.infer.instances import split_instances
from sagegan.infer.options import PredictionOptions
from sagegan.infer.overlays import OVERLAY_COLORMAP, attention_overlay, outlines_rgb
from sagegan.infer.scaleout import for_workers, map_in_order, process_cached, use_dask
from sagegan.infer.tiling import Prediction
from sagegan.models.checkpoint import checkpoint_record, read_training_info

LOGGER = logging.getLogger("sagegan")


@dataclass
class ImageResult:
    """One segmented image: its stem, source file, written files and particle count."""

    stem: str
    source: Path
    files: dict[str, Path]
    particle_count: int
    databar_rows: int = 0
    domain_reasons: list[str] = field(default_factory=list)


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
    rois: bool = False,
    workers: int = 1,
    scheduler: str | None = None,
) -> SegmentSummary:
    """Segment every image of ``inputs`` (files, folders, globs) with a trained model.

    ``model_path`` is a run folder (its ``options.which`` checkpoint), a checkpoint folder or a
    weights file. ``options`` (default `PredictionOptions()`) hold the tiling, threshold,
    instance-split, device, backend, databar and pixel-size choices; options left None take the
    model's training settings. ``rois``: also write an ImageJ ROI zip per image. An input that
    cannot be read or segmented is logged (one line naming the file) and skipped; the summary
    lists it. An unusable device raises ConfigError
    before any work.

    ``workers`` > 1 or a Dask ``scheduler`` address segment one image per Dask task
    (`sagegan.infer.scaleout`; each worker process loads the model once), with the same outputs
    and summary as the serial run; a cluster's workers get absolute paths.
    """
    dask = use_dask(workers, scheduler)
    options = (PredictionOptions() if options is None else options).resolved()
    run_on = options.run_device()
    out = Path(out)
    failures: list[SegmentFailure] = []
    images = _expand_inputs(inputs, failures)
    runner, info = options.load(model_path, run_on)
    weights = Path(info["path"])
    training_info = read_training_info(weights)
    guard = _domain_guard(weights, options)
    settings = {
        **options.settings(training_info, info.get("onnx")),
        "model": str(weights),
        "model_name": info.get("model"),
        "checkpoint": checkpoint_record(info),
    }
    summary = SegmentSummary(out=out, model=weights, failures=failures)
    for failure in failures:
        LOGGER.error("skipped %s", failure.message)
    out.mkdir(parents=True, exist_ok=True)
    if dask:
        del runner  # each worker process loads its own
        task = partial(
            _segment_task,
            model=weights.absolute(),
            options=_worker_options(options, info),
            settings=settings,
            out=for_workers(out, scheduler),
            rois=rois,
        )
        paths = [for_workers(path, scheduler) for path in images]
        outcomes = map_in_order(task, paths, workers, scheduler, progress, "segmenting")
    else:
        outcomes = (
            segment_one(path, runner, options, settings, out, rois, guard)
            for path in tqdm(images, desc="segmenting", unit="img", disable=not progress)
        )
    for outcome in outcomes:
        if isinstance(outcome, SegmentFailure):
            LOGGER.error("skipped %s", outcome.message)
            summary.failures.append(outcome)
        else:
            summary.results.append(outcome)
    return summary


def segment_one(
    path: Path,
    runner: InferenceBackend,
    options: PredictionOptions,
    settings: dict[str, Any],
    out: Path,
    rois: bool,
    guard: DomainGuard | None = None,
) -> ImageResult | SegmentFailure:
    """Segment the image ``path`` with a loaded ``runner`` and write its outputs and JSON into
    ``out``: its result, or its failure (one line naming the file) when it cannot be read or
    segmented. With a ``guard``, the image is also checked against the training images (one
    warning line when it looks unlike them; the JSON's ``domain``)."""
    try:
        sample, prediction, labels = _predict_one(path, runner, options, settings)
    except SageganError as err:
        message = str(err) if str(path) in str(err) else f"{path}: {err}"
        return SegmentFailure(path, message)
    files = _write_outputs(out, sample, prediction, labels, options.threshold, rois)
    record = _image_record(sample, labels, prediction.probability, files, settings)
    check = None if guard is None else guard.check(sample.image, record["pixel_size_nm"])
    record["domain"] = None if check is None else check.to_dict()
    if check is not None and check.outside:
        LOGGER.warning(
            "%s looks unlike the model's training images (%s): check its masks",
            path,
            "; ".join(check.reasons),
        )
    files["json"] = out / f"{sample.stem}.json"
    write_json_atomic(files["json"], record)
    reasons = [] if check is None else check.reasons
    return ImageResult(
        sample.stem, path, files, record["particle_count"], sample.databar_rows, reasons
    )


def _domain_guard(weights: Path, options: PredictionOptions) -> DomainGuard | None:
    """The model's domain guard when ``options`` ask for the check (one line when the model
    records no fingerprint)."""
    if not options.domain_check:
        return None
    guard = DomainGuard.for_weights(weights)
    if guard is None:
        LOGGER.info("%s records no training-image fingerprint: images are not checked", weights)
    return guard


def _worker_options(options: PredictionOptions, info: dict[str, Any]) -> PredictionOptions:
    """``options`` (resolved) for worker processes: with the onnx backend, the ONNX file the
    parent checked or exported, so that no worker exports it again."""
    onnx = info.get("onnx")
    return options if onnx is None else replace(options, onnx_path=Path(onnx).absolute())


def _segment_task(
    path: Path,
    model: Path,
    options: PredictionOptions,
    settings: dict[str, Any],
    out: Path,
    rois: bool,
) -> ImageResult | SegmentFailure:
    """One Dask task: `segment_one` with the model loaded once per worker process."""
    runner, guard = process_cached(
        (model, options),
        lambda: (options.load(model)[0], _domain_guard(model, options)),
    )
    return segment_one(path, runner, options, settings, out, rois, guard)


def _predict_one(
    path: Path, runner: InferenceBackend, options: PredictionOptions, settings: dict[str, Any]
) -> tuple[Sample, Prediction, np.ndarray]:
    """One image loaded with the resolved databar mode, predicted and split into instances."""
    sample = load_sample(Pair(path.stem, path, None), settings["databar"], options.pixel_size_nm)
    prediction = options.predict(runner, sample.image, settings["scale"])
    labels = split_instances(
        prediction.probability,
        options.threshold,
        **prediction.instance_maps,
        **settings["instances"],
    )
    return sample, prediction, labels


def _full_size(array: np.ndarray, databar_rows: int) -> np.ndarray:
    """``array`` (of the cropped image) padded with background rows where the databar was, so
    that it overlays the source image as it is."""
    return np.pad(array, ((0, databar_rows), (0, 0))) if databar_rows else array


def _write_outputs(
    out: Path,
    sample: Sample,
    prediction: Prediction,
    labels: np.ndarray,
    threshold: float,
    rois: bool,
) -> dict[str, Path]:
    """Masks, probabilities and labels at the source image's size (calibrated TIFFs), the
    outline and attention overlays of the segmented part, and optionally an ImageJ ROI zip."""
    stem, rows = sample.stem, sample.databar_rows
    pixel_nm = None if sample.pixel_size is None else sample.pixel_size.nm
    files = {
        "mask": out / f"{stem}_mask.png",
        "probability": out / f"{stem}_prob.tif",
        "labels": out / f"{stem}_labels.tif",
        "outlines": out / f"{stem}_outlines.png",
    }
    write_mask(files["mask"], _full_size(prediction.probability > threshold, rows))
    write_image(files["probability"], _full_size(prediction.probability, rows), pixel_nm)
    write_labels(files["labels"], _full_size(labels, rows), pixel_nm)
    for head, array in (("boundary", prediction.boundary), ("centre", prediction.centre)):
        if array is not None:
            files[head] = out / f"{stem}_{head}.tif"
            write_image(files[head], _full_size(array, rows), pixel_nm)
    outlines = outlines_rgb(sample.image, labels, None)
    if pixel_nm is not None:
        outlines = add_scale_bar(outlines, pixel_nm)
    Image.fromarray(outlines, mode="RGB").save(files["outlines"])
    if prediction.attention is not None:
        files["attention"] = out / f"{stem}_attention.png"
        overlay = add_colour_bar(
            attention_overlay(sample.image, prediction.attention), OVERLAY_COLORMAP
        )
        Image.fromarray(overlay, mode="RGB").save(files["attention"])
    if rois and labels.max(initial=0) > 0:
        files["rois"] = out / f"{stem}_rois.zip"
        write_roi_zip(files["rois"], labels)
    return files


def _image_record(
    sample: Sample,
    labels: np.ndarray,
    probability: np.ndarray,
    files: dict[str, Path],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The per-image JSON: source, geometry (outputs cover the source image), calibration,
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
            f"the whole source image ({height + sample.databar_rows} x {width}); its bottom "
            f"{sample.databar_rows} rows (databar) were not segmented and are background"
        ),
        "pixel_size_nm": None if sample.pixel_size is None else sample.pixel_size.nm,
        "pixel_size_source": None if sample.pixel_size is None else sample.pixel_size.source,
        "particle_count": int(labels.max(initial=0)),
        "foreground_fraction": float(np.mean(probability > threshold)),
        "instance_foreground_fraction": float(np.mean(labels > 0)),
        **settings,
        "files": {name: path.name for name, path in files.items()},
    }
