"""The generator's realism over the GAN stage, from a run's ``log.jsonl``: KID per GAN epoch with
its spread over subsets, the realism gate's threshold (``gan.realism_gate_kid`` of the run's
config) and the epochs with online augmentation on, then the network-free distances
(`sagegan.metrics.kid.realism_scores`). Runs whose log holds no realism have no such part."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sagegan.models.run_folder import RunFolder
from sagegan.report import html
from sagegan.report.curves import FIGURE_INCHES, read_training_log
from sagegan.report.embed import embed_figure
from sagegan.train.config import load_yaml

REALISM = "realism"
AUGMENTATION = "online_augmentation"
DISTANCES = ("intensity_w1", "spectrum_log_l2", "histogram_intersection")
FIGURE_HEIGHT_INCHES = 4.4
KID_LABEL = "KID ± std over subsets"
GATE_LABEL = "realism gate"
AUGMENTATION_LABEL = "online augmentation on"


def realism_records(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The GAN-stage records (`read_training_log`'s) that hold realism scores, in log order."""
    return [r for r in records if r["stage"] == "gan" and r.get(REALISM)]


def _values(records: Sequence[Mapping[str, Any]], name: str) -> list[float]:
    values = [record[REALISM].get(name) for record in records]
    return [math.nan if value is None else float(value) for value in values]


def _plot_kid(axis: Axes, records: Sequence[Mapping[str, Any]], gate_kid: float | None) -> None:
    measured = realism_records(records)
    axis.errorbar(
        [record["epoch"] for record in measured],
        _values(measured, "kid"),
        yerr=_values(measured, "kid_std"),
        marker="o",
        markersize=3,
        capsize=3,
        label=KID_LABEL,
    )
    if gate_kid is not None:
        axis.axhline(gate_kid, color="crimson", linestyle="--", label=f"{GATE_LABEL} {gate_kid:g}")
    augmented = [
        record["epoch"]
        for record in records
        if record["stage"] == "gan" and record.get(AUGMENTATION) is True
    ]
    for index, epoch in enumerate(augmented):
        label = AUGMENTATION_LABEL if index == 0 else None
        axis.axvspan(epoch - 0.5, epoch + 0.5, color="tab:orange", alpha=0.2, lw=0, label=label)
    axis.set_title("realism of the generator's images: KID (lower is more real)", fontsize=10)
    axis.set_ylabel("KID")
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)


def _plot_distances(axis: Axes, records: Sequence[Mapping[str, Any]]) -> None:
    measured = realism_records(records)
    epochs = [record["epoch"] for record in measured]
    for name in DISTANCES:
        axis.plot(epochs, _values(measured, name), marker=".", label=name)
    axis.set_title("network-free statistics (histogram intersection: 1 = same)", fontsize=8)
    axis.set_xlabel("GAN epoch (0 = the first)", fontsize=8)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7, ncols=len(DISTANCES))
    axis.grid(alpha=0.3)


def realism_curve(records: Sequence[Mapping[str, Any]], gate_kid: float | None = None) -> Figure:
    """KID per measured GAN epoch with error bars (its std over subsets), a line at ``gate_kid``
    when set and the GAN epochs with online augmentation on shaded, above a small panel of the
    network-free distances; from `read_training_log` records (some with realism scores)."""
    figure = Figure(figsize=(FIGURE_INCHES, FIGURE_HEIGHT_INCHES), layout="constrained")
    kid_axis, distance_axis = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    _plot_kid(kid_axis, records, gate_kid)
    _plot_distances(distance_axis, records)
    return figure


def realism_gate(config: Path) -> float | None:
    """``gan.realism_gate_kid`` of a run's config file; None when not set or no config."""
    if not config.is_file():
        return None
    gan = load_yaml(config).get("gan")
    gate = gan.get("realism_gate_kid") if isinstance(gan, dict) else None
    return float(gate) if isinstance(gate, (int, float)) and not isinstance(gate, bool) else None


def realism_part(folder: RunFolder) -> list[str]:
    """The heading and figure of the generator's realism; none when the log holds no realism."""
    log = folder.log_path()
    records = read_training_log(log) if log.is_file() else []
    if not realism_records(records):
        return []
    gate = realism_gate(folder.config_path())
    caption = (
        f"realism of the generator's images against the validation images, from {log.name}"
        + ("" if gate is None else f"; online augmentation stays off until KID <= {gate:g}")
    )
    figure = realism_curve(records, gate)
    return [html.heading("Generator realism"), html.image(embed_figure(figure), caption)]
