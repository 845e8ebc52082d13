"""Report sections of a training run, an evaluation and a comparison (segmentation output and
analysis have their own modules)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from sagegan.compare.tables import JSON_FILE as COMPARISON_FILE
from sagegan.compare.tables import METRICS as COMPARISON_METRICS
from sagegan.compare.tables import PLOT as COMPARISON_PLOT
from sagegan.errors import ConfigError, DataError
from sagegan.evaluate.outputs import METRICS_FILE, PER_IMAGE_FILE
from sagegan.evaluate.tables import AGGREGATION_NOTE, headline_rows
from sagegan.models.run_folder import POINTERS, STAGES, RunFolder
from sagegan.report import html
from sagegan.report.attention import attention_evolution
from sagegan.report.curves import read_training_log, training_curves
from sagegan.report.embed import png_of_figure, png_of_file
from sagegan.report.reading import read_json, read_text, require_keys
from sagegan.report.snapshots import find_snapshots

# per-image columns of an evaluation shown in the report (when present); per_image.csv has all
PER_IMAGE_COLUMNS = (
    "n_true",
    "n_pred",
    "dice",
    "pixel_iou",
    "f1@0.50",
    "f1@0.75",
    "mean_f1",
    "pq@0.50",
    "hd95",
)
NUMBER = (int, float)


def run_section(run: Path) -> html.Section:
    """Checkpoints, training curves, attention evolution, latest image grid and config of a run."""
    folder = RunFolder(run)
    pointers = {
        which: _read_pointer(folder.pointer_path(which))
        for which in POINTERS
        if folder.has_pointer(which)
    }
    parts = [html.heading("Checkpoints")]
    if pointers:
        parts.append(
            html.table(
                ["pointer", "stage", "epoch", "metric", "score", "folder"],
                [
                    (
                        folder.pointer_path(which).name,
                        pointer["stage"],
                        pointer["epoch"] + 1,
                        pointer.get("metric", html.MISSING),
                        html.format_value(pointer.get("score")),
                        pointer.get("checkpoint", html.MISSING),
                    )
                    for which, pointer in pointers.items()
                ],
            )
        )
    else:
        names = ", ".join(folder.pointer_path(which).name for which in ("best", "last"))
        parts.append(html.paragraph(f"no checkpoint pointers ({names}) here", True))
    parts += [html.heading("Training curves"), _curves(folder, pointers.get("best"))]
    parts += [html.heading("Attention evolution"), _attention(run)]
    grid = folder.latest_grid()
    if grid is not None:
        parts += [html.heading("Latest image grid"), html.image(png_of_file(grid), grid.name)]
    parts.append(html.heading("Configuration"))
    config = folder.config_path()
    if config.is_file():
        parts.append(html.preformatted(read_text(config)))
    else:
        parts.append(html.paragraph(f"no {config.name} in the run folder", True))
    return html.Section(f"Training run: {run}", "".join(parts))


def _read_pointer(path: Path) -> dict[str, Any]:
    pointer = read_json(path)
    require_keys(path, pointer, {"stage": str, "epoch": int})
    if pointer["stage"] not in STAGES:
        raise DataError(path, f"unknown stage {pointer['stage']!r}")
    return pointer


def _curves(folder: RunFolder, best: dict[str, Any] | None) -> str:
    log = folder.log_path()
    if not log.is_file():
        return html.paragraph(f"no {log.name} in the run folder: no training curves", True)
    records = read_training_log(log)
    if not records:
        return html.paragraph(f"{log} holds no epochs yet", True)
    scored = best is not None and isinstance(best.get("metric"), str)
    scored = scored and isinstance(best.get("score"), NUMBER)
    figure = training_curves(records, best if scored else None)
    return html.image(png_of_figure(figure), f"training curves from {log.name}")


def _attention(run: Path) -> str:
    try:
        find_snapshots(run)
    except ConfigError as err:
        return html.paragraph(str(err), True)
    with tempfile.TemporaryDirectory() as folder:
        figure = attention_evolution(run, Path(folder) / "attention_evolution.png")
        png = png_of_file(figure.path)
    labels = ", ".join(snapshot.label for snapshot in figure.snapshots)
    caption = f"attention of the finest gate on validation images at {labels}"
    return html.image(png, caption)


def evaluation_section(folder: Path) -> html.Section:
    """Headline metrics (per-image mean ± sd and pooled), notes and per-image scores."""
    path = folder / METRICS_FILE
    record = read_json(path)
    require_keys(path, record, {"summary": dict, "per_image": list})
    summary, rows = record["summary"], record["per_image"]
    if not all(isinstance(row, dict) for row in rows):
        raise DataError(path, "'per_image' holds entries that are not objects")
    facts = {
        "images": summary.get("n_images", len(rows)),
        "protocol": record.get("protocol", summary.get("protocol", html.MISSING)),
        "split": f"{record.get('split', html.MISSING)} of {record.get('data_dir', html.MISSING)}",
        "model": record.get("model", html.MISSING),
        "checkpoint": checkpoint_label(record.get("checkpoint")),
    }
    columns = [c for c in PER_IMAGE_COLUMNS if any(c in row for row in rows)]
    parts = [
        html.key_values(facts),
        html.table(["metric", "per-image mean ± sd", "pooled"], headline_rows(summary)),
        html.bullets([AGGREGATION_NOTE, *map(str, record.get("notes", []))]),
        html.heading("Per image"),
        html.paragraph(
            f"{len(columns)} headline columns shown; {PER_IMAGE_FILE} holds every column.", True
        ),
        html.table(
            ["image", *columns],
            [
                [row.get("name", html.MISSING), *(html.format_value(row.get(c)) for c in columns)]
                for row in rows
            ],
        ),
    ]
    return html.Section(f"Evaluation: {folder}", "".join(parts))


def comparison_section(folder: Path) -> html.Section:
    """The comparison table (mean ± sd over seeds) and the Dice-vs-training-size plot."""
    path = folder / COMPARISON_FILE
    record = read_json(path)
    require_keys(path, record, {"summary": list})
    rows = record["summary"]
    if not all(isinstance(row, dict) for row in rows):
        raise DataError(path, "'summary' holds entries that are not objects")
    facts = {
        "scores": record.get("metric", html.MISSING),
        "preset": record.get("preset", html.MISSING),
        "seeds": html.format_value(record.get("seeds")),
        "training sizes": html.format_value(record.get("train_sizes")),
        "test images": html.format_value(_count(record.get("test_stems"))),
        "data": record.get("data_dir", html.MISSING),
    }
    header = [
        "method",
        "train images",
        "seeds",
        *(f"{label} mean ± sd" for label, _ in COMPARISON_METRICS),
    ]
    table = [
        [
            row.get("method", html.MISSING),
            row.get("train_images", html.MISSING),
            row.get("n_seeds", html.MISSING),
            *(_mean_sd(row, key) for _, key in COMPARISON_METRICS),
        ]
        for row in rows
    ]
    parts = [html.key_values(facts), html.table(header, table)]
    methods = record.get("methods")
    if isinstance(methods, dict) and methods:
        parts += [
            html.heading("Methods (settings over the preset)"),
            html.key_values(
                {name: html.format_value(settings) for name, settings in methods.items()}
            ),
        ]
    plot = folder / COMPARISON_PLOT
    if plot.is_file():
        parts.append(html.image(png_of_file(plot), "test Dice against training images"))
    return html.Section(f"Comparison: {folder}", "".join(parts))


def checkpoint_label(checkpoint: object) -> str:
    """Text such as 'gan epoch 3' (epoch counted from 1) of a recorded stage and epoch."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("epoch"), int):
        return html.MISSING
    return f"{checkpoint.get('stage')} epoch {checkpoint['epoch'] + 1}"


def _count(items: object) -> int | None:
    return len(items) if isinstance(items, list) else None


def _mean_sd(row: dict[str, Any], key: str) -> str:
    mean, sd = row.get(f"{key}_mean"), row.get(f"{key}_sd")
    if not isinstance(mean, NUMBER) or math.isnan(mean):
        return html.MISSING
    if not isinstance(sd, NUMBER) or math.isnan(sd):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {sd:.3f}"
