"""The files of an analysis: particle and image tables, JSON, markdown summary and figures."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import sagegan
from sagegan.analysis.figures import (
    MEASURED_COLOUR,
    PREDICTED_MEASURED_COLOUR,
    order_figure,
    particle_overlay,
    size_histogram,
)
from sagegan.analysis.image import ImageAnalysis
from sagegan.analysis.sizes import fit_lognormal
from sagegan.data.atomic_files import write_bytes_atomic, write_json_atomic
from sagegan.evaluate.outputs import json_ready

PARTICLES_CSV = "particles.csv"
IMAGES_CSV = "images.csv"
ANALYSIS_JSON = "analysis.json"
SUMMARY_MD = "summary.md"
FIGURES = "figures"
ANALYSIS_KIND = "sagegan-analysis"


@dataclass
class AnalysisResult:
    """The analysed images, the folder summary, the inputs that failed and the files written."""

    out: Path
    unit: str
    images: list[ImageAnalysis]
    folder: dict[str, Any]
    failures: list[tuple[Path, str]] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def calibration_note(analyses: Sequence[ImageAnalysis]) -> str:
    """One sentence on the unit of every length in the outputs and where it came from."""
    if analyses[0].unit == "px":
        return (
            "Uncalibrated: no pixel size in the files and none given (--pixel-size); lengths are "
            "in pixels (px), areas in px^2."
        )
    sources = sorted({f"{a.pixel_size.nm:g} nm/px ({a.pixel_size.source})" for a in analyses})
    return f"Lengths in nm, areas in nm^2; pixel sizes: {'; '.join(sources)}."


def _csv_text(rows: Sequence[dict[str, Any]]) -> str:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return buffer.getvalue()


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _markdown(result: AnalysisResult, note: str, unlike: dict[str, list[str]]) -> str:
    lines = [f"# Particle analysis ({len(result.images)} images)", "", note, ""]
    if unlike:
        lines += ["Images unlike the model's training images (check their masks):"]
        lines += [f"- {stem}: {'; '.join(reasons)}" for stem, reasons in unlike.items()]
        lines += [""]
    lines += ["| folder | value |", "|---|---|"]
    lines += [f"| {key} | {_number(value)} |" for key, value in result.folder.items()]
    columns = [key for key in result.images[0].scalars if key not in ("unit", "pixel_size_nm")]
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for analysis in result.images:
        lines.append("| " + " | ".join(_number(analysis.scalars.get(c)) for c in columns) + " |")
    if result.failures:
        lines += ["", "Skipped:", *[f"- {message}" for _, message in result.failures]]
    return "\n".join(lines) + "\n"


def _histogram(sizes: np.ndarray, unit: str, path: Path, title: str) -> Path:
    return size_histogram(sizes, fit_lognormal(sizes), unit, path, title)


def write_figures(
    result: AnalysisResult,
    folder: Path,
    exclude_edges: bool,
    max_figures: int,
    predicted: bool = False,
) -> list[tuple[Path, str]]:
    """The pooled size histogram, then for the first ``max_figures`` images their outlines
    (measured particles yellow when the labels are ``predicted``, else cyan), size histogram and
    g(r); (file, caption) pairs."""
    unit = result.unit
    colour = PREDICTED_MEASURED_COLOUR if predicted else MEASURED_COLOUR
    outlined = "yellow (predicted labels)" if predicted else "cyan (annotated labels)"
    ecd = np.concatenate([a.particles.columns["ecd"][a.measured] for a in result.images])
    title = f"{ecd.size} particles in {len(result.images)} images"
    figures = [
        (
            _histogram(ecd, unit, folder / "size_histogram.png", title),
            "Equivalent circular diameters of the measured particles"
            + (" (edge particles excluded)" if exclude_edges else "")
            + ", all images pooled, with the maximum-likelihood log-normal fit.",
        )
    ]
    for analysis in result.images[:max_figures]:
        stem = analysis.stem
        sizes = analysis.particles.columns["ecd"][analysis.measured]
        size_title = f"{stem}: {sizes.size} measured particles"
        overlay = particle_overlay(
            analysis.image,
            analysis.labels,
            analysis.particles.columns["label"],
            analysis.measured,
            folder / f"{stem}_overlay.png",
            f"{stem}: {analysis.scalars['count']} particles",
            colour,
        )
        figures += [
            (
                overlay,
                f"{stem}: measured particles outlined in {outlined}, particles touching the "
                "border (excluded from size statistics) in magenta.",
            ),
            (
                _histogram(sizes, unit, folder / f"{stem}_sizes.png", size_title),
                f"{stem}: equivalent circular diameters with the log-normal fit.",
            ),
        ]
        curve = order_figure(analysis.order, unit, folder / f"{stem}_order.png", stem)
        if curve is not None:
            figures.append(
                (
                    curve,
                    f"{stem}: pair correlation g(r) of the particle centroids against complete "
                    "spatial randomness (grey: 95% envelope).",
                )
            )
    return figures


def write_outputs(
    result: AnalysisResult, settings: dict[str, Any], max_figures: int
) -> dict[str, Path]:
    """Write the tables, the JSON, the markdown summary and the figures into ``result.out``."""
    out = result.out
    files = {
        "particles": out / PARTICLES_CSV,
        "images": out / IMAGES_CSV,
        "json": out / ANALYSIS_JSON,
        "markdown": out / SUMMARY_MD,
    }
    particle_rows = [
        {"image": a.stem, **row, "measured": int(kept)}
        for a in result.images
        for row, kept in zip(a.particles.rows(), a.measured, strict=True)
    ]
    write_bytes_atomic(files["particles"], _csv_text(particle_rows).encode())
    write_bytes_atomic(files["images"], _csv_text([a.scalars for a in result.images]).encode())
    figures = write_figures(
        result,
        out / FIGURES,
        settings["exclude_edges"],
        max_figures,
        settings.get("labels_predicted", False),
    )
    note = calibration_note(result.images)
    document = {
        "kind": ANALYSIS_KIND,
        "sagegan_version": sagegan.__version__,
        "unit": result.unit,
        "calibration_note": note,
        "settings": settings,
        "folder": result.folder,
        "images": [
            {**a.scalars, "source": str(a.source), "labels": str(a.label_file)}
            for a in result.images
        ],
        "order": {a.stem: a.order for a in result.images},
        "figures": [
            {"file": str(path.relative_to(out)), "caption": caption} for path, caption in figures
        ],
        "failures": [{"path": str(path), "message": message} for path, message in result.failures],
    }
    write_json_atomic(files["json"], json_ready(document))
    markdown = _markdown(result, note, settings.get("domain_unlike") or {})
    write_bytes_atomic(files["markdown"], markdown.encode())
    return files
