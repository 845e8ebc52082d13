"""The headline of each result folder for the report's summary card: what was run, the numbers that
answer it (with units) and what to be wary of; read from the same files as the sections."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagegan.analysis.image import unit_name
from sagegan.models.run_folder import FINAL_CHOICE_KEY, FINAL_CHOICE_METRIC, RunFolder
from sagegan.report import html
from sagegan.report.analysis_section import quantity_labels, read_analysis
from sagegan.report.counts import COUNT_TOLERANCE, count_mismatches
from sagegan.report.epochs import checkpoint_label
from sagegan.report.evaluation_section import read_evaluation
from sagegan.report.reading import read_json
from sagegan.report.sections import read_comparison, read_pointers
from sagegan.report.segmentation import read_segmentation

# evaluation metrics in the card: (summary column, label)
EVALUATION_METRICS = (("dice", "Dice"), ("f1@0.50", "F1 @ IoU 0.5"), ("pq@0.50", "PQ @ IoU 0.5"))


@dataclass(frozen=True)
class Headline:
    """The answer of one result folder: its kind's title, the folder, what was run, the headline
    numbers (label with unit -> value) and warnings."""

    title: str
    folder: Path
    run: dict[str, str] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _mean_sd(summary: Mapping[str, Any], column: str) -> str:
    mean, sd = summary.get(f"{column}_mean"), summary.get(f"{column}_sd")
    if not _is_number(mean):
        return html.MISSING
    return f"{mean:.3f} ± {sd:.3f}" if _is_number(sd) else f"{mean:.3f}"


def run_headline(path: Path) -> Headline:
    """The best checkpoint (stage, epoch as in the folder names) and its validation scores."""
    folder = RunFolder(path)
    pointers = read_pointers(folder)
    best, last = pointers.get("best"), pointers.get("last")
    run: dict[str, str] = {}
    config = (best or last or {}).get("config")
    if isinstance(config, dict) and isinstance(config.get("model"), dict):
        run["model"] = str(config["model"].get("segmenter", html.MISSING))
    if folder.data_record_path().is_file():
        data = read_json(folder.data_record_path())
        run["data"] = f"{data.get('folder', html.MISSING)} ({data.get('pairs', '?')} image pairs)"
    if last is not None:
        run["trained until"] = checkpoint_label(last)
    if best is None:
        missing = f"no best checkpoint yet ({folder.pointer_path('best').name})"
        return Headline("Training run", path, run, {}, [missing])
    numbers = {"best checkpoint": checkpoint_label(best)}
    metrics = best.get("metrics")
    for name, value in (metrics if isinstance(metrics, dict) else {}).items():
        numbers[f"validation {name}"] = html.format_value(value)
    choice = best.get(FINAL_CHOICE_KEY)
    if isinstance(choice, dict) and isinstance(choice.get("over"), dict):
        run["chosen by"] = (
            f"highest validation F1@0.5 at each checkpoint's tuned instance split "
            f"({html.format_value(choice.get(FINAL_CHOICE_METRIC))} against "
            f"{html.format_value(choice['over'].get(FINAL_CHOICE_METRIC))} for "
            f"{checkpoint_label(choice['over'])})"
        )
    elif isinstance(best.get("metric"), str):
        run["chosen by"] = f"highest validation {best['metric']}"
    return Headline("Training run", path, run, numbers)


def evaluation_headline(path: Path) -> Headline:
    """Test Dice, F1 and PQ (per-image mean ± sd), particle totals, flagged and failed images."""
    record = read_evaluation(path)
    summary, rows = record["summary"], record["per_image"]
    n_images = summary.get("n_images", len(rows))
    split = str(record.get("split", html.MISSING))
    run = {
        "scores": f"per-image mean ± sd over {n_images} images",
        "checkpoint": _checkpoint(record),
        "data": f"{split} split of {record.get('data_dir', html.MISSING)}",
        "protocol": str(record.get("protocol", summary.get("protocol", html.MISSING))),
    }
    numbers = {
        f"{split} {label}": _mean_sd(summary, column)
        for column, label in EVALUATION_METRICS
        if f"{column}_mean" in summary
    }
    n_true, n_pred = summary.get("n_true_total"), summary.get("n_pred_total")
    if _is_number(n_true) and _is_number(n_pred):
        numbers["true / predicted particles"] = f"{n_true} / {n_pred}"
    warnings = []
    flagged = count_mismatches(rows)
    if flagged:
        warnings.append(
            f"{len(flagged)} of {len(rows)} images with the predicted particle count off by more "
            f"than {COUNT_TOLERANCE:.0%}: " + "; ".join(m.describe() for m in flagged)
        )
    failed = record.get("failed") or []
    if failed:
        warnings.append(f"{len(failed)} images could not be scored: {html.format_value(failed)}")
    return Headline("Evaluation", path, run, numbers, warnings)


def _checkpoint(record: Mapping[str, Any]) -> str:
    """The scored checkpoint's stage and epoch, or the model file's name when none is recorded
    (e.g. the builtin model)."""
    label = checkpoint_label(record.get("checkpoint"))
    model = record.get("model")
    return Path(model).name if label == html.MISSING and isinstance(model, str) else label


def segmentation_headline(path: Path) -> Headline:
    """Images segmented, particles counted, uncalibrated images."""
    records = [record for _, record in read_segmentation(path)]
    first = records[0]
    run = {
        "model": f"{first.get('model_name', html.MISSING)}, "
        f"{checkpoint_label(first.get('checkpoint'))}",
    }
    numbers = {
        "images segmented": str(len(records)),
        "particles counted": str(sum(record["particle_count"] for record in records)),
    }
    uncalibrated = [r.get("stem", "?") for r in records if r.get("pixel_size_nm") is None]
    unlike = {
        r.get("stem", "?"): r["domain"]["reasons"]
        for r in records
        if isinstance(r.get("domain"), dict) and r["domain"].get("reasons")
    }
    warnings = _domain_warnings(unlike)
    if uncalibrated:
        warnings.append(f"{len(uncalibrated)} images without a pixel size (sizes in px)")
    return Headline("Segmentation", path, run, numbers, warnings)


def analysis_headline(path: Path) -> Headline:
    """Particle count, median ECD with D10/D50/D90 in the analysis unit, density; failures."""
    record = read_analysis(path)
    unit, values = record["unit"], record["folder"]
    labels = quantity_labels(unit)
    settings = record.get("settings") or {}
    source = settings.get("model") or settings.get("labels") or html.MISSING
    if "labels_predicted" in settings:
        source = f"{source} ({'predicted' if settings['labels_predicted'] else 'annotated'})"
    run = {"labels": str(source), "calibration": record["calibration_note"]}
    numbers = {}
    for name in ("count", "count_measured"):
        if name in values:
            numbers[labels[name]] = html.format_value(values[name])
    d10, d50, d90 = (
        values.get(unit_name(f"ecd_{stat}", 1, unit)) for stat in ("d10", "d50", "d90")
    )
    if _is_number(d50):
        spread = f" (D10 {d10:.1f}, D90 {d90:.1f})" if _is_number(d10) and _is_number(d90) else ""
        numbers[f"median ECD ({unit})"] = f"{d50:.1f}{spread}"
    for name, label in labels.items():
        if name.startswith("density") and name in values:
            numbers[label] = html.format_value(values[name])
    warnings = [f"failed: {_failure(entry)}" for entry in record.get("failures") or []]
    warnings += _domain_warnings(settings.get("domain_unlike") or {})
    if unit == "px":
        warnings.append("uncalibrated: sizes in pixels")
    return Headline("Analysis", path, run, numbers, warnings)


def _domain_warnings(unlike: Mapping[str, Any]) -> list[str]:
    """One warning naming the images that look unlike the model's training images."""
    if not unlike:
        return []
    named = "; ".join(f"{stem} ({'; '.join(reasons)})" for stem, reasons in unlike.items())
    return [f"{len(unlike)} images unlike the model's training images, check their masks: {named}"]


def _failure(entry: object) -> str:
    return str(entry.get("message", entry)) if isinstance(entry, dict) else str(entry)


def comparison_headline(path: Path) -> Headline:
    """Test Dice (mean ± sd over seeds) of each method at its largest training size."""
    record = read_comparison(path)
    largest: dict[str, dict[str, Any]] = {}
    for row in record["summary"]:
        method, size = str(row.get("method")), row.get("train_images")
        if _is_number(size) and size >= largest.get(method, {}).get("train_images", -1):
            largest[method] = row
    numbers = {
        f"{method} test Dice ({row['train_images']} training images)": _mean_sd(row, "dice")
        for method, row in largest.items()
    }
    run = {"preset": str(record.get("preset", html.MISSING))}
    return Headline("Comparison", path, run, numbers)


HEADLINES: dict[str, Callable[[Path], Headline]] = {
    "run": run_headline,
    "evaluation": evaluation_headline,
    "segmentation": segmentation_headline,
    "comparison": comparison_headline,
    "analysis": analysis_headline,
}
