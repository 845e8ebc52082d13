"""Report section of a ``sagegan analyze`` folder (``analysis.json``): calibration, settings, the
chosen folder-level and per-image quantities with readable headers and units (the CSV tables,
linked, hold every column), the inputs that failed and the analysis figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagegan.analysis.image import per_area, unit_name
from sagegan.analysis.outputs import ANALYSIS_KIND, IMAGES_CSV, PARTICLES_CSV
from sagegan.errors import DataError
from sagegan.report import html
from sagegan.report.detect import ANALYSIS_FILE
from sagegan.report.embed import embed_file
from sagegan.report.links import full_tables
from sagegan.report.reading import read_json, require_keys

STEM = "stem"
AREA_UNITS = {"nm": "µm²", "px": "px²"}


def read_analysis(folder: Path) -> dict[str, Any]:
    """The checked ``analysis.json`` record of an analysis folder."""
    path = folder / ANALYSIS_FILE
    record = read_json(path)
    require_keys(
        path,
        record,
        {"kind": str, "unit": str, "calibration_note": str, "folder": dict, "images": list},
    )
    if record["kind"] != ANALYSIS_KIND:
        raise DataError(path, f"kind is {record['kind']!r}, not {ANALYSIS_KIND!r}")
    if not all(isinstance(image, dict) and STEM in image for image in record["images"]):
        raise DataError(path, f"'images' holds entries that are not objects with a {STEM!r}")
    return record


def quantity_labels(unit: str) -> dict[str, str]:
    """Readable labels, with units, of the analysis quantities the report shows (keyed by the
    names the analysis writes), in the order shown."""
    return {
        "images": "images",
        "count": "particles",
        "count_measured": "measured (not cut by the border)",
        unit_name("ecd_median", 1, unit): f"median ECD ({unit})",
        unit_name("ecd_d10", 1, unit): f"ECD D10 ({unit})",
        unit_name("ecd_d50", 1, unit): f"ECD D50 ({unit})",
        unit_name("ecd_d90", 1, unit): f"ECD D90 ({unit})",
        unit_name("ecd_mean", 1, unit): f"mean ECD ({unit})",
        unit_name("ecd_sd", 1, unit): f"ECD sd ({unit})",
        "lognormal_gsd": "log-normal geometric sd",
        per_area("density", unit): f"particles per {AREA_UNITS.get(unit, unit + '²')}",
        "coverage": "area fraction",
        "clark_evans": "Clark–Evans R",
        "clark_evans_image_mean": "Clark–Evans R (image mean)",
        "psi6_mean": "mean ψ6",
        "psi6_mean_image_mean": "mean ψ6 (image mean)",
    }


def analysis_section(folder: Path, report_dir: Path) -> html.Section:
    """Calibration note, settings, the chosen folder and per-image quantities (links to the CSV
    tables with every column), the inputs that failed and every figure of ``analysis.json``."""
    record = read_analysis(folder)
    images, labels = record["images"], quantity_labels(record["unit"])
    parts = [
        html.paragraph(record["calibration_note"]),
        html.key_values(
            {
                "length unit": record["unit"],
                "sagegan version": record.get("sagegan_version", html.MISSING),
                **{
                    f"setting: {name}": html.format_value(value)
                    for name, value in (record.get("settings") or {}).items()
                },
            }
        ),
        html.heading("Whole folder"),
        _folder_values(record["folder"], labels),
        html.heading(f"Per image ({len(images)})"),
        _images_table(images, labels),
        full_tables([folder / IMAGES_CSV, folder / PARTICLES_CSV], report_dir),
    ]
    failures = record.get("failures") or []
    if failures:
        parts += [
            html.heading(f"Inputs that could not be analysed ({len(failures)})"),
            html.table(
                ["input", "problem"],
                [(_field(f, "path"), _field(f, "message")) for f in failures],
            ),
        ]
    figures = _figures(folder / ANALYSIS_FILE, record.get("figures", []))
    if figures:
        parts += [html.heading("Figures"), *figures]
    return html.Section(f"Analysis: {folder}", "".join(parts))


def _field(entry: object, key: str) -> str:
    return str(entry.get(key, html.MISSING)) if isinstance(entry, dict) else str(entry)


def _folder_values(values: dict[str, Any], labels: dict[str, str]) -> str:
    """The chosen quantities with readable labels, then every value by its name, folded."""
    chosen = {
        label: html.format_value(values[name]) for name, label in labels.items() if name in values
    }
    every = html.key_values({name: html.format_value(value) for name, value in values.items()})
    return (
        html.key_values(chosen)
        + f"<details><summary>every folder value ({len(values)}, as named in "
        f"{ANALYSIS_FILE})</summary>{every}</details>"
    )


def _images_table(images: list[dict[str, Any]], labels: dict[str, str]) -> str:
    """The image's stem, then the chosen quantities any image has."""
    columns = [name for name in labels if any(name in image for image in images)]
    rows = [
        [image[STEM], *(html.format_value(image.get(name)) for name in columns)] for image in images
    ]
    return html.table(["image", *(labels[name] for name in columns)], rows)


def _figures(path: Path, figures: object) -> list[str]:
    """Embedded figures; an entry malformed, missing or outside the folder is a DataError."""
    if not isinstance(figures, list):
        raise DataError(path, "'figures' is not a list")
    folder = path.parent.resolve()
    embedded = []
    for entry in figures:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("file"), str)
            and isinstance(entry.get("caption"), str)
        ):
            raise DataError(path, f"figure entry {entry!r} lacks a 'file' or 'caption' text")
        file = (folder / entry["file"]).resolve()
        if not file.is_relative_to(folder):
            raise DataError(path, f"figure {entry['file']!r} lies outside the analysis folder")
        if not file.is_file():
            raise DataError(file, f"figure listed in {path.name} is missing")
        embedded.append(html.image(embed_file(file), entry["caption"]))
    return embedded
