"""The training-curve figure of a run's ``log.jsonl``: one small panel per loss term of each stage,
and the validation scores of both stages on one epoch axis with the stage boundary and the best
checkpoint marked; epochs are 0-based, as in the run's file names."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sagegan.errors import DataError
from sagegan.report.epochs import checkpoint_name, epoch_label
from sagegan.train.run_log import read_log

STAGES = ("pretrain", "gan")
STAGE_TITLES = {"pretrain": "pretrain", "gan": "GAN"}
SCORE_GROUPS = ("losses", "val", "realism")
LOG_SCALE_SPREAD = 20.0  # losses spanning more than this factor get a log axis
FIGURE_INCHES = 10.0
LOSS_COLUMNS = 5
LOSS_ROW_INCHES = 1.7
VALIDATION_INCHES = 3.6


def read_training_log(path: Path) -> list[dict[str, Any]]:
    """The epoch records of ``log.jsonl``, checked for what the curves read: a known stage, an
    integer epoch and numbers (or null) in ``losses``, ``val`` and ``realism`` (a torn last line,
    from a run killed while writing it, is dropped with a warning)."""
    records = read_log(path)
    for number, record in enumerate(records, start=1):
        where = f"record {number}"
        if record.get("stage") not in STAGES:
            raise DataError(path, f"{where} has stage {record.get('stage')!r}, not one of {STAGES}")
        epoch = record.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise DataError(path, f"{where} has no integer epoch")
        for group in SCORE_GROUPS:
            values = record.get(group, {})
            if not isinstance(values, dict) or not all(
                value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
                for value in values.values()
            ):
                raise DataError(path, f"{where}: {group!r} is not a mapping of names to numbers")
    return records


def _pretrain_epochs(records: Sequence[Mapping[str, Any]]) -> int:
    return 1 + max((r["epoch"] for r in records if r["stage"] == "pretrain"), default=-1)


def _position(stage: str, epoch: int, pretrain_epochs: int) -> float:
    """Place on the shared epoch axis: pretraining epochs 0..P-1 as in the file names, then GAN
    epochs at P.. (ticks labelled with the GAN epoch, from 0 again); the evaluation before a
    stage's first epoch (epoch -1 in the log) sits half an epoch before it."""
    start = pretrain_epochs if stage == "gan" else 0
    return start + (epoch if epoch >= 0 else -0.5)


def _series(
    records: Sequence[Mapping[str, Any]], group: str, pretrain_epochs: int
) -> dict[str, tuple[list, list]]:
    """Per name in ``group`` (first-seen order): (positions, values), nulls as NaN."""
    series: dict[str, tuple[list, list]] = {}
    for record in records:
        for name, value in record.get(group, {}).items():
            xs, ys = series.setdefault(name, ([], []))
            xs.append(_position(record["stage"], record["epoch"], pretrain_epochs))
            ys.append(math.nan if value is None else float(value))
    return series


def _epoch_axis(axis: Axes, pretrain_epochs: int, label: str) -> None:
    """Integer ticks labelled with the stage's own 0-based epoch (GAN epochs restart at 0)."""
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _: f"{x - pretrain_epochs:g}" if x >= pretrain_epochs else f"{x:g}")
    )
    axis.set_xlabel(label, fontsize=8)


def _plot_loss(axis: Axes, stage: str, name: str, xs: list, ys: list) -> None:
    """One loss term of one stage in its own panel (log scale when positive and widely spread)."""
    axis.plot(xs, ys, marker=".", color="tab:blue")
    values = [y for y in ys if not math.isnan(y)]
    if values and min(values) > 0 and max(values) > LOG_SCALE_SPREAD * min(values):
        axis.set_yscale("log")
    axis.set_title(f"{STAGE_TITLES[stage]}: {name}", fontsize=8)
    axis.tick_params(labelsize=7)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)


def _plot_validation(
    axis: Axes, records: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None
) -> None:
    pretrain_epochs = _pretrain_epochs(records)
    for name, (xs, ys) in _series(records, "val", pretrain_epochs).items():
        axis.plot(xs, ys, marker="o", markersize=3, label=f"validation {name}")
    stages = {record["stage"] for record in records}
    if len(stages) == len(STAGES):
        x = pretrain_epochs - 0.5
        axis.axvline(x, color="gray", linestyle="--", label="GAN stage starts")
    if best is not None:
        x = _position(best["stage"], best["epoch"], pretrain_epochs)
        axis.plot(
            [x],
            [best["score"]],
            marker="*",
            markersize=14,
            color="crimson",
            linestyle="none",
            label=f"best checkpoint ({epoch_label(best['stage'], best['epoch'])}, "
            f"{checkpoint_name(best['stage'], best['epoch'])}, "
            f"{best['metric']} {best['score']:.4f})",
        )
    axis.set_title("validation", fontsize=10)
    _epoch_axis(axis, pretrain_epochs, "epoch as in the file names (pretraining, then GAN stage)")
    axis.set_ylabel("score")
    if axis.get_legend_handles_labels()[0]:  # a log may hold no validation scores
        axis.legend(fontsize=7)
    axis.grid(alpha=0.3)


def _loss_terms(records: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, list, list]]:
    """(stage, term, epochs, values) of every loss term, pretraining first."""
    terms = []
    for stage in STAGES:
        stage_records = [r for r in records if r["stage"] == stage]
        for name, (xs, ys) in _series(stage_records, "losses", 0).items():
            terms.append((stage, name, xs, ys))
    return terms


def training_curves(
    records: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None = None
) -> Figure:
    """Small panels, one per loss term of each stage (so that no term lies flat beside a larger
    one), then the validation scores of both stages (the last axes) from `read_training_log`
    records; ``best`` (a run's ``best.json``: stage, 0-based epoch, metric, score) is starred.
    Epochs are 0-based as in the run's file names."""
    terms = _loss_terms(records)
    rows = math.ceil(len(terms) / LOSS_COLUMNS)
    height = LOSS_ROW_INCHES * rows + VALIDATION_INCHES
    figure = Figure(figsize=(FIGURE_INCHES, height), layout="constrained")
    grid = figure.add_gridspec(rows + 1, LOSS_COLUMNS, height_ratios=[1] * rows + [2])
    for index, (stage, name, xs, ys) in enumerate(terms):
        axis = figure.add_subplot(grid[index // LOSS_COLUMNS, index % LOSS_COLUMNS])
        _plot_loss(axis, stage, name, xs, ys)
    _plot_validation(figure.add_subplot(grid[rows, :]), records, best)
    return figure
