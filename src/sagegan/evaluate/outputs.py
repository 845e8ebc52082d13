"""The files an evaluation writes: metrics.json, per_image.csv and summary.md."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sagegan.data.atomic_files import write_bytes_atomic, write_json_atomic
from sagegan.evaluate.tables import summary_markdown

METRICS_FILE = "metrics.json"
PER_IMAGE_FILE = "per_image.csv"
SUMMARY_FILE = "summary.md"


def json_ready(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def per_image_csv(rows: Sequence[Mapping[str, object]]) -> str:
    """CSV text with one line per row (columns of the first row; floats at full precision,
    NaN as an empty cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = list(rows[0])
    writer.writerow(columns)
    writer.writerows([_cell(row[column]) for column in columns] for row in rows)
    return buffer.getvalue()


def write_outputs(
    out: Path,
    record: Mapping[str, Any],
    rows: Sequence[Mapping[str, object]],
    summary: Mapping[str, object],
    notes: Sequence[str],
) -> dict[str, Path]:
    """Write the three files into ``out`` (each atomically) and return them by kind."""
    files = {
        "metrics": out / METRICS_FILE,
        "per_image": out / PER_IMAGE_FILE,
        "summary": out / SUMMARY_FILE,
    }
    document = {**record, "notes": list(notes), "summary": summary, "per_image": list(rows)}
    write_json_atomic(files["metrics"], json_ready(document))
    write_bytes_atomic(files["per_image"], per_image_csv(rows).encode())
    write_bytes_atomic(files["summary"], summary_markdown(summary, notes).encode())
    return files
