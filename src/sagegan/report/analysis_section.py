"""Report section of a ``sagegan analyze`` folder (``analysis.json``): calibration, settings,
folder-level and per-image scalars (whatever names the analysis wrote) and its figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagegan.analysis.outputs import ANALYSIS_KIND
from sagegan.errors import DataError
from sagegan.report import html
from sagegan.report.detect import ANALYSIS_FILE
from sagegan.report.embed import png_of_file
from sagegan.report.reading import read_json, require_keys

STEM = "stem"


def analysis_section(folder: Path) -> html.Section:
    """Calibration note, settings, the ``folder`` scalars, the ``images`` table, the inputs that
    failed and every figure listed in the folder's ``analysis.json``."""
    path = folder / ANALYSIS_FILE
    record = read_json(path)
    require_keys(
        path,
        record,
        {"kind": str, "unit": str, "calibration_note": str, "folder": dict, "images": list},
    )
    if record["kind"] != ANALYSIS_KIND:
        raise DataError(path, f"kind is {record['kind']!r}, not {ANALYSIS_KIND!r}")
    images = record["images"]
    if not all(isinstance(image, dict) and STEM in image for image in images):
        raise DataError(path, f"'images' holds entries that are not objects with a {STEM!r}")
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
        html.key_values({name: html.format_value(v) for name, v in record["folder"].items()}),
        html.heading(f"Per image ({len(images)})"),
        _images_table(images),
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
    figures = _figures(path, record.get("figures", []))
    if figures:
        parts += [html.heading("Figures"), *figures]
    return html.Section(f"Analysis: {folder}", "".join(parts))


def _field(entry: object, key: str) -> str:
    return str(entry.get(key, html.MISSING)) if isinstance(entry, dict) else str(entry)


def _images_table(images: list[dict[str, Any]]) -> str:
    """Columns: the stem, then the union of every image's other keys in first-seen order."""
    columns = list(dict.fromkeys(key for image in images for key in image if key != STEM))
    rows = [
        [image[STEM], *(html.format_value(image.get(column)) for column in columns)]
        for image in images
    ]
    return html.table([STEM, *columns], rows)


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
        embedded.append(html.image(png_of_file(file), entry["caption"]))
    return embedded
