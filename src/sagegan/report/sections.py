"""Report sections of a training run and a comparison (evaluation, segmentation output and analysis
have their own modules)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from sagegan.compare.tables import JSON_FILE as COMPARISON_FILE
from sagegan.compare.tables import METRICS as COMPARISON_METRICS
from sagegan.compare.tables import PLOT as COMPARISON_PLOT
from sagegan.errors import ConfigError, DataError
from sagegan.models.run_folder import (
    GRID_SUFFIX,
    POINTERS,
    STAGES,
    RunFolder,
    parse_epoch_file_name,
)
from sagegan.report import html
from sagegan.report.attention import attention_evolution
from sagegan.report.curves import read_training_log, training_curves
from sagegan.report.embed import embed_figure, embed_file
from sagegan.report.epochs import checkpoint_name, epoch_label
from sagegan.report.reading import read_json, read_text, require_keys
from sagegan.report.realism import realism_part
from sagegan.report.snapshots import find_snapshots

NUMBER = (int, float)


def run_section(run: Path) -> html.Section:
    """Checkpoints, training curves, attention evolution, latest image grid, the generator's
    realism (when measured) and config of a run."""
    folder = RunFolder(run)
    pointers = read_pointers(folder)
    parts = [html.heading("Checkpoints")]
    if pointers:
        parts.append(
            html.table(
                ["pointer", "stage", "epoch (as in the folder name)", "metric", "score", "folder"],
                [
                    (
                        folder.pointer_path(which).name,
                        pointer["stage"],
                        pointer["epoch"],
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
        parts += [
            html.heading("Latest image grid"),
            html.image(embed_file(grid), _grid_caption(grid)),
        ]
    parts += realism_part(folder)
    parts.append(html.heading("Configuration"))
    config = folder.config_path()
    if config.is_file():
        parts.append(html.preformatted(read_text(config)))
    else:
        parts.append(html.paragraph(f"no {config.name} in the run folder", True))
    return html.Section(f"Training run: {run}", "".join(parts))


def read_pointers(folder: RunFolder) -> dict[str, dict[str, Any]]:
    """The checkpoint pointers (best, last, best-<stage>) the run has, by name."""
    return {
        which: _read_pointer(folder.pointer_path(which))
        for which in POINTERS
        if folder.has_pointer(which)
    }


def _read_pointer(path: Path) -> dict[str, Any]:
    pointer = read_json(path)
    require_keys(path, pointer, {"stage": str, "epoch": int})
    if pointer["stage"] not in STAGES:
        raise DataError(path, f"unknown stage {pointer['stage']!r}")
    return pointer


def _grid_caption(grid: Path) -> str:
    parsed = parse_epoch_file_name(grid.name, GRID_SUFFIX)
    when = html.MISSING if parsed is None else epoch_label(*parsed)
    return f"image grid of {when} ({grid.name})"


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
    caption = (
        f"training curves from {log.name}: one panel per loss term, epochs numbered as the "
        f"checkpoint folders (e.g. {checkpoint_name('pretrain', 0)} is pretraining epoch 0)"
    )
    return html.image(embed_figure(figure), caption)


def _attention(run: Path) -> str:
    try:
        find_snapshots(run)
    except ConfigError as err:
        return html.paragraph(str(err), True)
    with tempfile.TemporaryDirectory() as folder:
        figure = attention_evolution(run, Path(folder) / "attention_evolution.png")
        embedded = embed_file(figure.path)
    names = ", ".join(snapshot.path.name for snapshot in figure.snapshots)
    caption = f"attention of the finest gate on validation images, from {names}"
    return html.image(embedded, caption)


def read_comparison(folder: Path) -> dict[str, Any]:
    """The comparison record of ``folder``, checked for a ``summary`` list of objects."""
    path = folder / COMPARISON_FILE
    record = read_json(path)
    require_keys(path, record, {"summary": list})
    if not all(isinstance(row, dict) for row in record["summary"]):
        raise DataError(path, "'summary' holds entries that are not objects")
    return record


def comparison_section(folder: Path) -> html.Section:
    """The comparison table (mean ± sd over seeds) and the Dice-vs-training-size plot."""
    record = read_comparison(folder)
    rows = record["summary"]
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
        parts.append(html.image(embed_file(plot), "test Dice against training images"))
    return html.Section(f"Comparison: {folder}", "".join(parts))


def _count(items: object) -> int | None:
    return len(items) if isinstance(items, list) else None


def _mean_sd(row: dict[str, Any], key: str) -> str:
    mean, sd = row.get(f"{key}_mean"), row.get(f"{key}_sd")
    if not isinstance(mean, NUMBER) or math.isnan(mean):
        return html.MISSING
    if not isinstance(sd, NUMBER) or math.isnan(sd):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {sd:.3f}"
