"""`sagegan demo`: the whole pipeline on the embedded simulator, with no data and no network."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagegan.analysis import analyze_images
from sagegan.data.check import DatasetReport, check_dataset
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import Split, load_or_create_split
from sagegan.errors import DataError
from sagegan.evaluate import evaluate_run
from sagegan.infer import PredictionOptions, segment_images
from sagegan.models.run_folder import SPLIT_FILE, RunFolder
from sagegan.report import write_report
from sagegan.synth import SimulatorConfig, write_dataset
from sagegan.train import RunResult, TrainConfig, config_from_cli, train

LOGGER = logging.getLogger("sagegan")
DEMO_SIZE = (512, 768)
DEMO_STYLE = "mixed"


@dataclass
class DemoResult:
    """Where the demo wrote things, its headline numbers and the wall seconds of each stage."""

    out: Path
    data_dir: Path
    split_path: Path
    run_dir: Path
    report: Path
    seconds: dict[str, float] = field(default_factory=dict)
    headline: dict[str, Any] = field(default_factory=dict)


def simulate_demo_data(data_dir: Path, n_images: int, seed: int) -> Path:
    """Simulate the demo dataset, reusing an earlier simulation with the same settings."""
    config = SimulatorConfig.preset(DEMO_STYLE, size=DEMO_SIZE)
    meta_path = data_dir / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        wanted = {"seed": seed, "n": n_images, "config": json.loads(json.dumps(config.to_dict()))}
        if all(meta.get(key) == value for key, value in wanted.items()):
            LOGGER.info("reusing the simulated dataset in %s", data_dir)
            return data_dir
    return write_dataset(data_dir, n=n_images, seed=seed, config=config, overwrite=True)


@contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of the block to ``seconds[stage]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - start


def _analysis_headline(
    predicted: dict[str, Any], truth: dict[str, Any], unit: str
) -> dict[str, str]:
    """Predicted vs true particle numbers of the test images (segmentation vs exact labels)."""

    def pair(key: str, digits: int) -> str:
        values = [predicted.get(key), truth.get(key)]
        return " / ".join("n/a" if v is None else f"{v:.{digits}f}" for v in values)

    return {
        "test particles counted (predicted / true)": f"{predicted['count']} / {truth['count']}",
        f"median diameter, {unit} (predicted / true)": pair(f"ecd_median_{unit}", 1),
        "Clark-Evans R, image mean (predicted / true)": pair("clark_evans_image_mean", 3),
    }


def _checked(data_dir: Path) -> DatasetReport:
    """Check the simulated dataset, print the check and refuse a dataset that fails it."""
    check = check_dataset(data_dir)
    print(check.to_text())
    if not check.ok:
        raise DataError(data_dir, "the simulated dataset failed its check (see the report above)")
    return check


def _trained(data_dir: Path, run_dir: Path, config: TrainConfig, split_path: Path) -> RunResult:
    """Train both stages into ``run_dir``, or resume (or just reload) a run started there."""
    resume = RunFolder(run_dir).has_pointer("last")
    # trained and validated on the exact instances of labels/ (masks/ merges touching
    # particles, so a split chosen on it would learn not to split them)
    return train(
        data_dir,
        run_dir,
        None if resume else config,
        resume=resume,
        split_path=split_path,
        mask_dir="labels",
    )


def _training_headline(
    n_images: int, check: DatasetReport, split: Split, best: dict[str, Any]
) -> dict[str, Any]:
    """The dataset, its split and the best checkpoint with its validation metrics."""
    return {
        "images": n_images,
        "particles": sum(f.n_instances for f in check.files),
        "train/val/test": f"{len(split.train)}/{len(split.val)}/{len(split.test)}",
        "best checkpoint": Path(str(best.get("checkpoint", ""))).name,  # as the folder is named
        **{f"validation {k}": round(v, 4) for k, v in best.get("metrics", {}).items()},
    }


def _test_headline(
    test_images: list[Path], data_dir: Path, run_dir: Path, out: Path, seconds: dict[str, float]
) -> dict[str, Any]:
    """Segment, score and analyze the test images (into ``out``); their headline numbers."""
    reference = PredictionOptions(backend="torch", precision="fp32")  # the same numbers anywhere
    with _timed(seconds, "segment"):
        segmented = segment_images(test_images, run_dir, out / "segmented", reference)
    with _timed(seconds, "evaluate"):
        evaluation = out / "evaluation"
        scores = evaluate_run(
            run_dir, data_dir, out=evaluation, mask_dir="labels", options=reference
        ).summary
    with _timed(seconds, "analyze"):
        predicted = analyze_images(test_images, out / "analysis", labels_dir=out / "segmented")
        truth = analyze_images(
            test_images, out / "analysis-truth", labels_dir=data_dir / "labels", progress=False
        )
    return {
        "test images segmented": f"{len(segmented.results)} -> {segmented.out}",
        "test Dice (per-image mean)": round(scores["dice_mean"], 4),
        "test F1@0.50 (per-image mean)": round(scores["f1@0.50_mean"], 4),
        "test PQ@0.50 (per-image mean)": round(scores["pq@0.50_mean"], 4),
        **_analysis_headline(predicted.folder, truth.folder, predicted.unit),
    }


def _write_and_print(result: DemoResult) -> None:
    """Write ``demo.json`` and print the headline numbers and wall times."""
    record = {**{k: str(v) for k, v in vars(result).items()}, "seconds": result.seconds}
    (result.out / "demo.json").write_text(
        json.dumps({**record, "headline": result.headline}, indent=2)
    )
    print(f"\nsagegan demo finished: results in {result.out}")
    for key, value in result.headline.items():
        print(f"  {key}: {value}")
    print("  wall time: " + ", ".join(f"{stage} {t:.0f} s" for stage, t in result.seconds.items()))


def run_demo(
    out: str | Path = "demo_out", n_images: int = 40, seed: int = 0, preset: str = "cpu-small"
) -> DemoResult:
    """Simulate a dataset, check it, fix its split, train both stages with ``preset``, then segment,
    score and analyze the held-out test images and write ``out/report.html``.

    Running it again reuses the simulation and resumes (or just reloads) the training run.
    """
    out = Path(out)
    seconds: dict[str, float] = {}
    with _timed(seconds, "simulate"):
        data_dir = simulate_demo_data(out / "data", n_images, seed)
    check = _checked(data_dir)
    pairs = {pair.stem: pair for pair in find_pairs(data_dir)}
    split_path = out / SPLIT_FILE  # named as a run's own split file
    config = config_from_cli(preset, overrides={"seed": seed})
    split = load_or_create_split(
        split_path,
        list(pairs),
        seed=seed,
        val_fraction=config.data.val_fraction,
        test_fraction=config.data.test_fraction,
    )
    run_dir = out / "run"
    with _timed(seconds, "train"):
        run = _trained(data_dir, run_dir, config, split_path)
    test_images = [pairs[stem].image for stem in split.test]
    tested = _test_headline(test_images, data_dir, run_dir, out, seconds)
    with _timed(seconds, "report"):
        report_path = write_report(
            [run_dir, out / "evaluation", out / "segmented", out / "analysis"],
            out / "report.html",
            title="sagegan demo: simulated SEM nanoparticles",
        )
    result = DemoResult(
        out=out,
        data_dir=data_dir,
        split_path=split_path,
        run_dir=run_dir,
        report=report_path,
        seconds=seconds,
        headline={
            **_training_headline(len(pairs), check, split, run.best or {}),
            **tested,
            "report": str(report_path),
        },
    )
    _write_and_print(result)
    return result
