"""Report section of an evaluation folder (``metrics.json``): what was scored, the headline metrics
(per-image mean ± sd and pooled), and chosen per-image columns with the images whose predicted
particle count is far off flagged; ``per_image.csv`` (linked) holds every column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagegan.errors import DataError
from sagegan.evaluate.outputs import METRICS_FILE, PER_IMAGE_FILE
from sagegan.evaluate.tables import AGGREGATION_NOTE, headline_rows
from sagegan.report import html
from sagegan.report.counts import COUNT_TOLERANCE, count_mismatches
from sagegan.report.epochs import checkpoint_label
from sagegan.report.links import full_tables
from sagegan.report.reading import read_json, require_keys

# per-image columns shown (when present) and their headers; HD95 gets its unit appended
PER_IMAGE_COLUMNS = (
    ("dice", "Dice"),
    ("pixel_iou", "IoU"),
    ("f1@0.50", "F1 @ IoU 0.5"),
    ("f1@0.75", "F1 @ IoU 0.75"),
    ("mean_f1", "mean F1"),
    ("pq@0.50", "PQ @ IoU 0.5"),
    ("hd95", "HD95"),
)
COUNTS_HEADER = "true / predicted particles"


def read_evaluation(folder: Path) -> dict[str, Any]:
    """The ``metrics.json`` record of an evaluation folder, checked for a ``summary`` object and
    a ``per_image`` list of objects."""
    path = folder / METRICS_FILE
    record = read_json(path)
    require_keys(path, record, {"summary": dict, "per_image": list})
    if not all(isinstance(row, dict) for row in record["per_image"]):
        raise DataError(path, "'per_image' holds entries that are not objects")
    return record


def evaluation_facts(record: dict[str, Any]) -> dict[str, object]:
    """What was scored: images, protocol, split and data, model and checkpoint."""
    summary = record["summary"]
    return {
        "images": summary.get("n_images", len(record["per_image"])),
        "protocol": record.get("protocol", summary.get("protocol", html.MISSING)),
        "split": f"{record.get('split', html.MISSING)} of {record.get('data_dir', html.MISSING)}",
        "model": record.get("model", html.MISSING),
        "checkpoint": checkpoint_label(record.get("checkpoint")),
    }


def evaluation_section(folder: Path, report_dir: Path) -> html.Section:
    """Facts, headline metrics, notes and the per-image table (count mismatches flagged)."""
    record = read_evaluation(folder)
    summary = record["summary"]
    parts = [
        html.key_values(evaluation_facts(record)),
        html.table(["metric", "per-image mean ± sd", "pooled"], headline_rows(summary)),
        html.bullets([AGGREGATION_NOTE, *map(str, record.get("notes", []))]),
        html.heading("Per image"),
        _per_image_table(record["per_image"], str(summary.get("hd95_unit", "px"))),
        full_tables([folder / PER_IMAGE_FILE], report_dir),
    ]
    return html.Section(f"Evaluation: {folder}", "".join(parts))


def _per_image_table(rows: list[dict[str, Any]], hd95_unit: str) -> str:
    columns = [(key, label) for key, label in PER_IMAGE_COLUMNS if any(key in r for r in rows)]
    headers = [f"{label} ({hd95_unit})" if key == "hd95" else label for key, label in columns]
    counted = any("n_true" in row and "n_pred" in row for row in rows)
    table = [
        [
            row.get("name", html.MISSING),
            *([_counts(row)] if counted else []),
            *(html.format_value(row.get(key)) for key, _ in columns),
        ]
        for row in rows
    ]
    flagged = {index for index, row in enumerate(rows) if count_mismatches([row])}
    note = ""
    if counted:
        note = html.paragraph(
            f"Highlighted: {len(flagged)} image(s) whose predicted particle count differs from "
            f"the true count by more than {COUNT_TOLERANCE:.0%}.",
            True,
        )
    header = ["image", *([COUNTS_HEADER] if counted else []), *headers]
    return note + html.table(header, table, flagged)


def _counts(row: dict[str, Any]) -> str:
    return f"{html.format_value(row.get('n_true'))} / {html.format_value(row.get('n_pred'))}"
