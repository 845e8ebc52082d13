"""Per-sample rows of a comparison: each run's test images grouped by sample (the comparison's
group pattern), so that a test split mixing sample types (pdc_sem: graphite images with ~1000
particles beside one-agglomerate ``large_*`` images) shows where a method wins and where it loses.

A run's score for a sample is the mean over its test images of that sample (per-image mean, as
the whole-split scores); the table then gives mean and sample sd over seeds, like `aggregate`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.compare.tables import PAPER_METRICS, SampleTable, aggregate, mean_sd
from sagegan.errors import DataError
from sagegan.evaluate.outputs import PER_IMAGE_FILE

SAMPLE_KEYS = ("method", "train_images", "sample", "images")
# (label, per-image column): the scores a sample row carries for each protocol
SAMPLE_METRICS: tuple[tuple[str, str], ...] = (("Dice", "dice"), ("F1@0.5", "f1@0.50"))
# each protocol's (label, row column) of those scores, in SAMPLE_METRICS order: the comparison's
PROTOCOL_METRICS: dict[str, tuple[tuple[str, str], ...]] = {
    "native": SAMPLE_METRICS,
    "paper": PAPER_METRICS,
}


def _per_image_scores(path: Path, columns: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each image's ``columns`` from an evaluation's per_image.csv, by image name."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return {row["name"]: {column: float(row[column]) for column in columns} for row in rows}
    except (OSError, KeyError, ValueError) as err:
        raise DataError(path, f"unreadable per-image scores ({err})") from None


def sample_runs(
    out: Path,
    runs: Sequence[Mapping[str, Any]],
    sample_of: Mapping[str, str],
    eval_folders: Mapping[str, str],
) -> list[dict[str, Any]]:
    """One row per (run, sample): the run's per-image means over its test images of that sample.

    ``runs``: the comparison's per-run rows (``run`` is the run folder relative to ``out``);
    ``sample_of``: each test stem's sample; ``eval_folders``: protocol -> evaluation folder
    inside a run (the protocol's scores go into its ``PROTOCOL_METRICS`` columns, as in the
    comparison's own columns).
    """
    stems_of = {
        sample: [stem for stem, of in sample_of.items() if of == sample]
        for sample in sorted(set(sample_of.values()))
    }
    columns = [column for _, column in SAMPLE_METRICS]
    rows = []
    for run in runs:
        per_protocol = {
            protocol: _per_image_scores(out / run["run"] / folder / PER_IMAGE_FILE, columns)
            for protocol, folder in eval_folders.items()
        }
        for sample, stems in stems_of.items():
            row: dict[str, Any] = {
                "method": run["method"],
                "train_images": run["train_images"],
                "sample": sample,
                "images": len(stems),
                "seed": run["seed"],
            }
            for protocol, scores in per_protocol.items():
                missing = sorted(set(stems) - set(scores))
                if missing:
                    source = out / run["run"] / eval_folders[protocol] / PER_IMAGE_FILE
                    raise DataError(source, f"no score for the test image(s) {missing}")
                for column, (_, key) in zip(columns, PROTOCOL_METRICS[protocol], strict=True):
                    row[key] = float(np.mean([scores[stem][column] for stem in stems]))
            rows.append(row)
    return rows


def sample_markdown(rows: Sequence[Mapping[str, Any]], metrics: Sequence[tuple[str, str]]) -> str:
    """The aggregated sample rows as a markdown table (mean ± sd over seeds)."""
    header = ["method", "train images", "sample", "test images", "seeds"]
    header += [f"{label} mean ± sd" for label, _ in metrics]
    lines = [
        "Per sample: each run's per-image mean over its test images of that sample.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * len(header)) + "|",
    ]
    for row in rows:
        cells = [row["method"], str(row["train_images"]), row["sample"], str(row["images"])]
        cells.append(str(row["n_seeds"]))
        cells += [mean_sd(row, key) for _, key in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def sample_table(
    out: Path,
    runs: Sequence[Mapping[str, Any]],
    sample_of: Mapping[str, str],
    eval_folders: Mapping[str, str],
) -> SampleTable:
    """The comparison's per-sample rows, aggregated over seeds, and their markdown table."""
    metrics = [metric for protocol in eval_folders for metric in PROTOCOL_METRICS[protocol]]
    rows = aggregate(sample_runs(out, runs, sample_of, eval_folders), metrics, SAMPLE_KEYS)
    return SampleTable(rows=rows, markdown=sample_markdown(rows, metrics))
