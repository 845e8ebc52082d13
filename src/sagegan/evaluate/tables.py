"""Headline tables of an evaluation summary: markdown for summary.md, plain text for the console."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

MEAN_F1 = "mean_f1"
# (label, row column); a row is shown when the summary holds the column's per-image mean.
HEADLINE: tuple[tuple[str, str], ...] = (
    ("Dice", "dice"),
    ("IoU", "pixel_iou"),
    ("F1@0.50", "f1@0.50"),
    ("F1@0.75", "f1@0.75"),
    ("mean F1", MEAN_F1),
    ("PQ@0.50", "pq@0.50"),
    ("HD95", "hd95"),
)
AGGREGATION_NOTE = (
    "per-image mean ± sd: every image weighs the same (sample sd); pooled: pixel and object "
    "counts summed over all images first, so large or crowded images weigh more"
)


def _label(label: str, column: str, summary: Mapping[str, object]) -> str:
    if column == MEAN_F1:
        thresholds = summary.get("thresholds") or []
        if len(thresholds) > 1:
            return f"mean F1 (IoU {thresholds[0]:.2f}:{thresholds[-1]:.2f})"
    if column == "hd95":
        return f"HD95 ({summary.get('hd95_unit', 'px')})"
    return label


def _number(value: object, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.2f}" if column == "hd95" else f"{value:.4f}"


def headline_rows(summary: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """(metric, per-image mean ± sd, pooled) as text for each headline metric in ``summary``."""
    rows = []
    for label, column in HEADLINE:
        if f"{column}_mean" not in summary:
            continue
        mean = _number(summary[f"{column}_mean"], column)
        sd = _number(summary.get(f"{column}_sd"), column)
        per_image = mean if mean == "n/a" else f"{mean} ± {sd}"
        undefined = summary.get(f"{column}_n_undefined")
        if undefined:
            per_image += f" ({undefined} undefined)"
        pooled = _number(summary.get(f"{column}_pooled"), column)
        rows.append((_label(label, column, summary), per_image, pooled))
    return rows


def _title(summary: Mapping[str, object]) -> str:
    return f"{summary.get('n_images', '?')} images, protocol {summary.get('protocol', '?')!r}"


def summary_markdown(summary: Mapping[str, object], notes: Sequence[str] = ()) -> str:
    """Markdown: a title line, the headline table and ``notes`` as a bullet list."""
    table = headline_rows(summary)
    lines = [
        f"# Evaluation: {_title(summary)}",
        "",
        "| metric | per-image mean ± sd | pooled |",
        "| --- | --- | --- |",
        *(f"| {metric} | {mean_sd} | {pooled} |" for metric, mean_sd, pooled in table),
        "",
        *(f"- {note}" for note in (AGGREGATION_NOTE, *notes)),
    ]
    return "\n".join(lines) + "\n"


def format_summary(summary: Mapping[str, object]) -> str:
    """The headline table as aligned plain text for the console."""
    rows = [("metric", "per-image mean ± sd", "pooled"), *headline_rows(summary)]
    widths = [max(len(row[index]) for row in rows) for index in range(3)]
    lines = [_title(summary)]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
    lines.append(f"({AGGREGATION_NOTE})")
    return "\n".join(lines)
