"""The training-curve figure of a run's ``log.jsonl``: the losses of each stage, and the validation
scores of both stages on one epoch axis with the stage boundary and the best checkpoint marked."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sagegan.errors import DataError
from sagegan.train.run_log import read_log

STAGES = ("pretrain", "gan")
STAGE_TITLES = {"pretrain": "pretraining losses", "gan": "GAN-stage losses"}
SCORE_GROUPS = ("losses", "val")
LOG_SCALE_SPREAD = 20.0  # losses spanning more than this factor get a log axis


def read_training_log(path: Path) -> list[dict[str, Any]]:
    """The epoch records of ``log.jsonl``, checked for what the curves read: a known stage, an
    integer epoch and numbers (or null) in ``losses`` and ``val`` (a torn last line, from a run
    killed while writing it, is dropped with a warning)."""
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


def _position(stage: str, epoch: int, pretrain_epochs: int) -> int:
    """Place on the shared epoch axis: pretraining epochs 1..P, then GAN epochs P+1..; the
    evaluation before a stage's first epoch (epoch -1 in the log) sits at that stage's 0."""
    return epoch + 1 + (pretrain_epochs if stage == "gan" else 0)


def _series(records: Sequence[Mapping[str, Any]], group: str) -> dict[str, tuple[list, list]]:
    """Per name in ``group`` (first-seen order): (positions, values), nulls as NaN."""
    pretrain_epochs = _pretrain_epochs(records)
    series: dict[str, tuple[list, list]] = {}
    for record in records:
        for name, value in record.get(group, {}).items():
            xs, ys = series.setdefault(name, ([], []))
            xs.append(_position(record["stage"], record["epoch"], pretrain_epochs))
            ys.append(math.nan if value is None else float(value))
    return series


def _plot_losses(axis: Axes, records: Sequence[Mapping[str, Any]], stage: str) -> None:
    stage_records = [r for r in records if r["stage"] == stage]
    series = _series(stage_records, "losses")
    for name, (xs, ys) in series.items():
        axis.plot(xs, ys, marker=".", label=name)
    values = [y for _, ys in series.values() for y in ys if not math.isnan(y)]
    if values and min(values) > 0 and max(values) > LOG_SCALE_SPREAD * min(values):
        axis.set_yscale("log")
    axis.set_title(STAGE_TITLES[stage], fontsize=10)
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend(fontsize=6, ncol=2)
    axis.grid(alpha=0.3)


def _plot_validation(
    axis: Axes, records: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None
) -> None:
    for name, (xs, ys) in _series(records, "val").items():
        axis.plot(xs, ys, marker="o", markersize=3, label=f"validation {name}")
    pretrain_epochs = _pretrain_epochs(records)
    stages = {record["stage"] for record in records}
    if len(stages) == len(STAGES):
        axis.axvline(pretrain_epochs, color="gray", linestyle="--", label="GAN stage starts")
    if best is not None:
        x = _position(best["stage"], best["epoch"], pretrain_epochs)
        axis.plot(
            [x],
            [best["score"]],
            marker="*",
            markersize=14,
            color="crimson",
            linestyle="none",
            label=f"best checkpoint ({best['stage']} epoch {best['epoch'] + 1}, "
            f"{best['metric']} {best['score']:.4f})",
        )
    axis.set_title("validation", fontsize=10)
    axis.set_xlabel("epoch (pretraining, then GAN stage)")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel("score")
    if axis.get_legend_handles_labels()[0]:  # a log may hold no validation scores
        axis.legend(fontsize=7)
    axis.grid(alpha=0.3)


def training_curves(
    records: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None = None
) -> Figure:
    """Losses per stage (top row; log scale when positive and widely spread) and validation
    scores of both stages (bottom) from `read_training_log` records; ``best`` (a run's
    ``best.json``: stage, 0-based epoch, metric, score) is starred."""
    loss_stages = [s for s in STAGES if any(r["stage"] == s and r.get("losses") for r in records)]
    mosaic = [loss_stages, ["val"] * len(loss_stages)] if loss_stages else [["val"]]
    figure = Figure(figsize=(11, 7.5 if loss_stages else 4), layout="constrained")
    axes = figure.subplot_mosaic(mosaic)
    for stage in loss_stages:
        _plot_losses(axes[stage], records, stage)
    _plot_validation(axes["val"], records, best)
    return figure
