"""Aggregation of a comparison's runs over seeds and the files it writes: CSV, markdown, JSON and
the Dice-vs-training-size plot."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.data.atomic_files import write_bytes_atomic, write_json_atomic
from sagegan.evaluate.outputs import json_ready

# (label, per-image column): a run's score is the evaluation summary's "<column>_mean", the
# test-set mean over images
METRICS: tuple[tuple[str, str], ...] = (
    ("Dice", "dice"),
    ("F1@0.5", "f1@0.50"),
    ("mean F1 (0.5:0.95)", "mean_f1"),
    ("PQ@0.5", "pq@0.50"),
)
# the same per-image means under the SAGE-GAN code's protocol (``run_comparison(paper_protocol=)``)
PAPER_PREFIX = "paper_"
PAPER_METRICS: tuple[tuple[str, str], ...] = (
    ("Dice (paper protocol)", f"{PAPER_PREFIX}dice"),
    ("F1@0.5 (paper protocol)", f"{PAPER_PREFIX}f1@0.50"),
)
RUNS_CSV = "comparison_runs.csv"
SUMMARY_CSV = "comparison.csv"
SAMPLE_CSV = "comparison_by_sample.csv"
MARKDOWN = "comparison.md"
JSON_FILE = "comparison.json"
PLOT = "dice_vs_size.png"


def aggregate(
    runs: Sequence[Mapping[str, Any]],
    metrics: Sequence[tuple[str, str]] = METRICS,
    keys: Sequence[str] = ("method", "train_images"),
) -> list[dict[str, Any]]:
    """One row per value of ``keys`` (default: method and train images), in first-seen order:
    mean and sample sd over seeds of every metric (sd NaN with a single seed)."""
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault(tuple(run[key] for key in keys), []).append(run)
    rows = []
    for values_of_keys, members in groups.items():
        row: dict[str, Any] = dict(zip(keys, values_of_keys, strict=True))
        row["n_seeds"] = len(members)
        for _, key in metrics:
            values = np.array([member[key] for member in members], dtype=np.float64)
            row[f"{key}_mean"] = float(values.mean())
            row[f"{key}_sd"] = float(values.std(ddof=1)) if values.size > 1 else math.nan
        rows.append(row)
    return rows


def _csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = list(rows[0])
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            "" if isinstance(row[c], float) and math.isnan(row[c]) else row[c] for c in columns
        )
    return buffer.getvalue().encode()


def mean_sd(row: Mapping[str, Any], key: str) -> str:
    """An aggregated row's ``key`` as "mean ± sd" (the mean alone with one seed)."""
    mean, sd = row[f"{key}_mean"], row[f"{key}_sd"]
    return f"{mean:.3f}" if math.isnan(sd) else f"{mean:.3f} ± {sd:.3f}"


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    preset: str,
    n_test: int,
    metrics: Sequence[tuple[str, str]] = METRICS,
) -> str:
    """The aggregated rows as a markdown table with a caption stating seeds and test images."""
    seeds = sorted({row["n_seeds"] for row in rows})
    header = ["method", "train images", *(f"{label} mean ± sd" for label, _ in metrics)]
    lines = [
        f"Test-set per-image means over {'/'.join(map(str, seeds))} seed(s) per row "
        f"(sample sd over seeds), preset {preset!r}, {n_test} test images.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * len(header)) + "|",
    ]
    for row in rows:
        cells = [row["method"], str(row["train_images"])]
        cells += [mean_sd(row, key) for _, key in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_dice_vs_size(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Dice against training images, one line per method with sd error bars."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    methods = list(dict.fromkeys(row["method"] for row in rows))
    for method in methods:
        points = sorted((r for r in rows if r["method"] == method), key=lambda r: r["train_images"])
        sds = [0.0 if math.isnan(r["dice_sd"]) else r["dice_sd"] for r in points]
        axes.errorbar(
            [r["train_images"] for r in points],
            [r["dice_mean"] for r in points],
            yerr=sds,
            marker="o",
            capsize=3,
            label=method,
        )
    axes.set_xlabel("training images")
    axes.set_ylabel("test Dice (mean ± sd over seeds)")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


@dataclass(frozen=True)
class SampleTable:
    """A comparison's per-sample rows (aggregated over seeds) and their markdown table."""

    rows: list[dict[str, Any]]
    markdown: str


def write_tables(
    out: Path,
    runs: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    record: Mapping[str, Any],
    n_test: int,
    metrics: Sequence[tuple[str, str]] = METRICS,
    by_sample: SampleTable | None = None,
) -> dict[str, Path]:
    """Write the per-run CSV, aggregated CSV, markdown, JSON, (with several sizes) the plot and
    (with ``by_sample``) the per-sample CSV and a per-sample table under the markdown's."""
    files = {
        "runs_csv": out / RUNS_CSV,
        "csv": out / SUMMARY_CSV,
        "markdown": out / MARKDOWN,
        "json": out / JSON_FILE,
    }
    write_bytes_atomic(files["runs_csv"], _csv(runs))
    write_bytes_atomic(files["csv"], _csv(rows))
    markdown = markdown_table(rows, record["preset"], n_test, metrics)
    document = {**record, "runs": runs, "summary": rows}
    if by_sample is not None:
        files["sample_csv"] = out / SAMPLE_CSV
        write_bytes_atomic(files["sample_csv"], _csv(by_sample.rows))
        markdown += "\n" + by_sample.markdown
        document["by_sample"] = by_sample.rows
    write_bytes_atomic(files["markdown"], markdown.encode())
    write_json_atomic(files["json"], json_ready(document))
    if len({row["train_images"] for row in rows}) > 1:
        files["plot"] = out / PLOT
        plot_dice_vs_size(rows, files["plot"])
    return files
