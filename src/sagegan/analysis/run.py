"""`analyze_images`: measure the particles of a folder of images and write tables and figures.

OUT receives ``particles.csv`` (one row per particle, units in the header), ``images.csv`` (one
row per image), ``analysis.json`` (everything, including g(r) curves and the folder summary),
``summary.md`` and ``figures/``. With a model the images are segmented first, into
``OUT/segmented`` (see `sagegan.infer.segment_images`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from sagegan.analysis.image import (
    ImageAnalysis,
    OrderOptions,
    analyze_image,
    per_area,
    size_scalars,
    to_per_area_unit,
)
from sagegan.analysis.outputs import AnalysisResult, write_outputs
from sagegan.data.calibration import PixelSize, folder_pixel_sizes
from sagegan.data.databar import DatabarMode
from sagegan.data.pairing import find_images, find_label_files
from sagegan.errors import ConfigError, DataError, SageganError
from sagegan.infer import PredictionOptions, segment_images
from sagegan.infer.scaleout import for_workers, map_in_order, use_dask

LOGGER = logging.getLogger("sagegan")
SEGMENTED = "segmented"
# one image to analyse: stem, image file, label file, pixel size and databar mode
AnalysisJob = tuple[str, Path, Path, PixelSize | None, DatabarMode]
# order statistics averaged over the images in the folder summary (each image has its own window)
ORDER_MEANS = ("clark_evans", "clark_evans_z", "psi6_mean", "psi6_z", "g_peak_z", "ring_density_z")


def _label_sources(
    inputs: Sequence[str | Path],
    labels_dir: Path,
    failures: list[tuple[Path, str]],
) -> list[tuple[str, Path, Path]]:
    images = find_images(inputs)
    stems: dict[str, Path] = {}
    for path in images:
        if path.stem in stems:
            raise DataError(
                path, f"two input images share the stem {path.stem!r}: {stems[path.stem]}"
            )
        stems[path.stem] = path
    labels = find_label_files(list(stems), labels_dir)
    sources = []
    for stem, path in stems.items():
        if stem in labels:
            sources.append((stem, path, labels[stem]))
        else:
            failures.append((path, f"no label file for {stem!r} in {labels_dir}"))
    return sources


def analyze_images(
    inputs: Sequence[str | Path],
    out: str | Path,
    labels_dir: str | Path | None = None,
    model: str | Path | None = None,
    options: PredictionOptions | None = None,
    exclude_edges: bool = True,
    min_area_px: int = 0,
    order: OrderOptions | None = None,
    max_figures: int = 12,
    progress: bool = True,
    workers: int = 1,
    scheduler: str | None = None,
) -> AnalysisResult:
    """Analyse the images ``inputs`` (files, folders, globs) with labels from ``labels_dir`` (files
    named as `find_label_files` expects) or from segmenting them with ``model`` (a run folder).

    ``options`` (default `PredictionOptions()`): the segmentation's options with a model; their
    ``pixel_size_nm`` overrides the files' calibration (`folder_pixel_sizes`: a folder mixing
    calibrated and uncalibrated images is refused) and ``databar`` None crops by detection
    ("auto"; with a model, as the model was trained).
    ``min_area_px``: smaller objects are removed as specks (see `analyze_image`).
    ``max_figures``: per-image figures (overlay, order) for the first N images; the tables cover
    all. An image that cannot be read or has no labels is logged, listed in the result and
    skipped. Raises DataError when no image could be analysed.
    ``workers``/``scheduler``: segment and analyse one image per Dask task on local processes or
    a Dask cluster (`sagegan.infer.scaleout.map_in_order`), with the serial run's results.
    """
    use_dask(workers, scheduler)  # bad scale-out settings fail before any work
    options = PredictionOptions() if options is None else options
    _check_options(labels_dir is not None, model is not None, max_figures, min_area_px)
    out = Path(out)
    failures: list[tuple[Path, str]] = []
    databar_rows: dict[str, int] = {}  # with a model: the rows segment left out, per stem
    unlike: dict[str, list[str]] = {}  # with a model: images unlike its training images
    if model is not None:
        inputs, labels_dir, databar_rows, unlike = _segment_first(
            inputs, model, out, options, progress, failures, workers, scheduler
        )
    sources = _label_sources(inputs, Path(labels_dir), failures)
    paths = [path for _, path, _ in sources]
    calibration = folder_pixel_sizes(paths, options.pixel_size_nm, failures)
    sources = [source for source in sources if source[1] in calibration]
    databar = options.databar or "auto"
    jobs = [
        (stem, path, label_path, calibration[path], databar_rows.get(stem, databar))
        for stem, path, label_path in sources
    ]
    measure = partial(
        _analyze_one, exclude_edges=exclude_edges, order=order, min_area_px=min_area_px
    )
    analyses: list[ImageAnalysis] = []
    for outcome in _measure_all(measure, jobs, progress, workers, scheduler):
        if isinstance(outcome, ImageAnalysis):
            analyses.append(outcome)
        else:
            failures.append(outcome)
    for _, message in failures:
        LOGGER.error("skipped %s", message)
    if not analyses:
        raise DataError(Path(labels_dir), "no image could be analysed")
    unit = analyses[0].unit
    folder = folder_summary(analyses, unit)
    result = AnalysisResult(out=out, unit=unit, images=analyses, folder=folder, failures=failures)
    settings = {
        "labels": str(labels_dir),
        "model": None if model is None else str(model),
        "labels_predicted": _segment_output(sources),
        "domain_unlike": unlike,
        "exclude_edges": exclude_edges,
        "min_area_px": min_area_px,
        "databar": databar,
        "order": (order or OrderOptions()).__dict__,
    }
    result.files = write_outputs(result, settings, max_figures)
    return result


def _check_options(labels: bool, model: bool, max_figures: int, min_area_px: int) -> None:
    """ConfigError for options that cannot work together or a negative count."""
    if labels == model:
        raise ConfigError("give exactly one of a labels folder or a model")
    if max_figures < 0:
        raise ConfigError(f"max_figures must be >= 0, got {max_figures}")
    if min_area_px < 0:
        raise ConfigError(f"minimum particle area must be >= 0 pixels, got {min_area_px}")


def _segment_output(sources: Sequence[tuple[str, Path, Path]]) -> bool:
    """Whether every label file is `sagegan segment` output (predicted, not annotated): a
    ``<stem>_labels`` image beside the ``<stem>.json`` record segment writes."""
    return bool(sources) and all(
        label.stem == f"{stem}_labels" and label.with_name(f"{stem}.json").is_file()
        for stem, _, label in sources
    )


def _measure_all(
    measure: Callable[[AnalysisJob], ImageAnalysis | tuple[Path, str]],
    jobs: list[AnalysisJob],
    progress: bool,
    workers: int,
    scheduler: str | None,
) -> Iterable[ImageAnalysis | tuple[Path, str]]:
    """``measure`` of every job in order: one after the other, or one Dask task each."""
    if not use_dask(workers, scheduler):
        return map(measure, tqdm(jobs, desc="analyzing", unit="img", disable=not progress))
    jobs = [_job_for_workers(job, scheduler) for job in jobs]
    return map_in_order(measure, jobs, workers, scheduler, progress, "analyzing")


def _analyze_one(
    job: AnalysisJob, exclude_edges: bool, order: OrderOptions | None, min_area_px: int
) -> ImageAnalysis | tuple[Path, str]:
    """`analyze_image` of one job (stem, image, labels, pixel size, databar mode), or the image
    and the one-line reason (naming it) when it cannot be analysed."""
    stem, path, label_path, pixel_size, databar = job
    try:
        return analyze_image(
            stem, path, label_path, pixel_size, databar, exclude_edges, order, min_area_px
        )
    except SageganError as err:
        return path, str(err) if str(path) in str(err) else f"{path}: {err}"


def _job_for_workers(job: AnalysisJob, scheduler: str | None) -> AnalysisJob:
    """``job`` with its files as the Dask workers must read them (`for_workers`)."""
    stem, path, label_path, pixel_size, databar = job
    return (
        stem,
        for_workers(path, scheduler),
        for_workers(label_path, scheduler),
        pixel_size,
        databar,
    )


def _segment_first(
    inputs: Sequence[str | Path],
    model: str | Path,
    out: Path,
    options: PredictionOptions,
    progress: bool,
    failures: list[tuple[Path, str]],
    workers: int = 1,
    scheduler: str | None = None,
) -> tuple[list[Path], Path, dict[str, int], dict[str, list[str]]]:
    """Segment the inputs into ``OUT/segmented`` (on Dask with ``workers``/``scheduler``): the
    images segmented, that folder, the databar rows segment left out of each and the reasons
    of the images that look unlike the model's training images (the inputs that failed join
    ``failures``); DataError when none could be segmented."""
    segmented = segment_images(
        inputs,
        model,
        out / SEGMENTED,
        options,
        progress=progress,
        workers=workers,
        scheduler=scheduler,
    )
    failures += [(failure.source, failure.message) for failure in segmented.failures]
    if not segmented.results:
        raise DataError(out / SEGMENTED, "no image could be segmented")
    sources = [result.source for result in segmented.results]
    rows = {result.stem: result.databar_rows for result in segmented.results}
    unlike = {r.stem: r.domain_reasons for r in segmented.results if r.domain_reasons}
    return sources, out / SEGMENTED, rows, unlike


def folder_summary(analyses: Sequence[ImageAnalysis], unit: str) -> dict[str, Any]:
    """Pooled numbers over all images: counts, density, coverage, the size distribution of the
    measured particles with its log-normal fit, and the per-image mean of each order statistic."""
    ecd = np.concatenate([a.particles.columns["ecd"][a.measured] for a in analyses])
    area = sum(a.field_area for a in analyses)
    count = sum(a.scalars["count"] for a in analyses)
    foreground = sum(int(np.count_nonzero(a.labels)) for a in analyses)
    summary: dict[str, Any] = {
        "images": len(analyses),
        "count": count,
        "count_measured": int(ecd.size),
        per_area("density", unit): to_per_area_unit(count / area, unit),
        "coverage": foreground / sum(a.labels.size for a in analyses),
    }
    sizes, fit = size_scalars(ecd, unit)
    summary.update(sizes)
    summary["lognormal_ks"] = None if fit is None else fit.ks_statistic
    for key in ORDER_MEANS:
        values = [a.scalars[key] for a in analyses if a.scalars.get(key) is not None]
        summary[f"{key}_image_mean"] = float(np.mean(values)) if values else None
    return summary
