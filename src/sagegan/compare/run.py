"""``run_comparison``: train and evaluate every (method, training size, seed) on one split.

Layout of OUT: ``split.json`` (the shared split), ``splits/n<k>.json`` (one per training size),
``runs/<method>/n<k>/s<seed>/`` (a training run folder; ``trained.json`` marks finished training
and ``eval-test/`` holds its test evaluation) and the tables written by
:func:`sagegan.compare.tables.write_tables`. With ``resume`` a run whose evaluation exists is read
back, a finished training run is only evaluated and an interrupted one continues from its last
checkpoint; a SAGE-GAN run starts from a copy of its finished Attention U-Net twin's training
(``pretraining.json``, see `sagegan.compare.reuse`).

With ``workers`` > 1 the runs go to that many processes, each with an equal share of the torch
threads. A process takes one (training size, seed) at a time and runs its methods in order, so
every twin is finished before the run that copies it; the results are those of one process.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import multiprocessing
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

import sagegan
from sagegan.compare.by_sample import sample_table
from sagegan.compare.jobs import Job, group_by_size_and_seed, plan_jobs
from sagegan.compare.methods import (
    DEFAULT_METHODS,
    METHODS,
    UNTRAINED,
    check_methods,
    method_config,
)
from sagegan.compare.reuse import copy_pretraining, pretraining_twin, reuse_record
from sagegan.compare.tables import (
    METRICS,
    PAPER_METRICS,
    PAPER_PREFIX,
    aggregate,
    write_tables,
)
from sagegan.data.atomic_files import write_json_atomic
from sagegan.data.splits import Split, SplitWarning, groups_from_pattern
from sagegan.errors import ConfigError, DataError, SageganError
from sagegan.evaluate import evaluate_run
from sagegan.evaluate.outputs import METRICS_FILE
from sagegan.infer.classical import classical_instances
from sagegan.infer.device import resolve_device
from sagegan.infer.options import PredictionOptions
from sagegan.models.run_folder import RunFolder
from sagegan.train import TrainConfig, config_from_cli, train

LOGGER = logging.getLogger("sagegan")
TRAINED_FILE = "trained.json"
EVAL_FOLDERS = {"native": "eval-test", "paper": "eval-test-paper"}


@dataclass
class ComparisonResult:
    """Per-run rows, their aggregation over seeds and the files written."""

    out: Path
    split_path: Path
    runs: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    files: dict[str, Path]
    by_sample: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class _Setting:
    """What every run of one comparison shares."""

    out: Path
    data_dir: Path
    split_path: Path
    split: Split
    preset: str
    overrides: Mapping[str, Any] | None
    mask_dir: str | None
    resume: bool
    protocols: tuple[str, ...]
    methods: tuple[str, ...]


def _check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"seeds must be a non-empty list of integers, got {list(seeds)!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"a seed is listed twice: {list(seeds)!r}")
    return tuple(seeds)


def _eval_device(config: TrainConfig) -> str:
    return str(resolve_device(config.runtime.device, "runtime.device"))


def _trained(run_dir: Path, job: Job, config: TrainConfig, setting: _Setting) -> None:
    """Train the run unless ``resume`` finds it finished; then mark it finished. A run whose
    stage 1 another finished run of the comparison already trained starts from a copy of it
    (see `sagegan.compare.reuse`)."""
    marker = run_dir / TRAINED_FILE
    if setting.resume and marker.is_file():
        return
    reused = reuse_record(run_dir) or _reuse_pretraining(run_dir, job, config, setting)
    with warnings.catch_warnings():
        # by design: a subset split leaves images out and its seed is the comparison's, not the
        # run's (train warns about both)
        warnings.simplefilter("ignore", SplitWarning)
        result = train(
            setting.data_dir,
            run_dir,
            config,
            stage="all" if reused is None else "gan",
            resume=setting.resume,
            split_path=job.split_path,
        )
    stages = {name: dataclasses.asdict(o) for name, o in result.stages.items()}
    if reused is not None:
        stages = {"pretrain": {**reused["pretrain"], "reused_from": reused["donor"]}, **stages}
    write_json_atomic(
        marker,
        {"stages": stages, "stems_read": sorted(result.stems_read), "split": str(job.split_path)},
    )


def _reuse_pretraining(
    run_dir: Path, job: Job, config: TrainConfig, setting: _Setting
) -> dict[str, Any] | None:
    """Copy a finished twin's pretraining into a fresh ``run_dir`` and return the reuse record
    (None when the folder has started training, resume is off or no twin of the same size and
    seed has finished)."""
    if not setting.resume or RunFolder(run_dir).has_pointer("last"):
        return None
    others = {
        name: method_config(name, setting.preset, job.seed, setting.overrides)
        for name in setting.methods
        if name != job.method and name not in UNTRAINED
    }
    twin = pretraining_twin(config, others)
    if twin is None:
        return None
    donor = dataclasses.replace(job, method=twin).run_dir(setting.out)
    if not (donor / TRAINED_FILE).is_file():
        return None
    outcome = json.loads((donor / TRAINED_FILE).read_text(encoding="utf-8"))["stages"]["pretrain"]
    LOGGER.info("%s: stage 1 copied from %s", run_dir, donor)
    return copy_pretraining(donor, run_dir, config, str(donor.relative_to(setting.out)), outcome)


def _evaluation(
    run_dir: Path, setting: _Setting, device: str, protocol: str, method: str
) -> tuple[dict[str, Any], bool]:
    """The run's test summary under ``protocol`` (read back when ``resume`` finds it) and
    whether it was reused. An untrained method is scored with its predictor and the split."""
    metrics_file = run_dir / EVAL_FOLDERS[protocol] / METRICS_FILE
    if setting.resume and metrics_file.is_file():
        try:
            document = json.loads(metrics_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise DataError(metrics_file, f"unreadable evaluation ({err})") from None
        if sorted(document.get("stems", [])) != sorted(setting.split.test):
            raise DataError(metrics_file, "evaluated on other images than the split's test part")
        return document["summary"], True
    untrained = method in UNTRAINED
    result = evaluate_run(
        None if untrained else run_dir,
        setting.data_dir,
        out=run_dir / EVAL_FOLDERS[protocol],
        split="test",
        protocol=protocol,
        split_file=setting.split_path,
        mask_dir=setting.mask_dir,
        progress=False,
        options=PredictionOptions(device=device),
        predictor=(lambda sample: classical_instances(sample.image)) if untrained else None,
    )
    return result.summary, False


def _summary_key(column: str) -> str:
    """The evaluation-summary metric behind a table column (``paper_dice`` -> ``dice``)."""
    return column.removeprefix(PAPER_PREFIX)


def _score(summary: Mapping[str, Any], column: str, source: Path) -> float:
    value = summary.get(f"{column}_mean")
    if value is None:
        raise DataError(source, f"the evaluation has no per-image mean of {column!r}")
    return float(value)


def run_comparison(
    data_dir: str | Path,
    out: str | Path,
    methods: Sequence[str] = DEFAULT_METHODS,
    seeds: Sequence[int] = (0, 1),
    train_sizes: Sequence[int | str] = ("all",),
    preset: str = "cpu-small",
    split_file: str | Path | None = None,
    mask_dir: str | None = None,
    resume: bool = True,
    progress: bool = True,
    overrides: Mapping[str, Any] | None = None,
    paper_protocol: bool = False,
    finished_only: bool = False,
    group_pattern: str | None = None,
    workers: int = 1,
) -> ComparisonResult:
    """Train and test-evaluate each method (see ``sagegan.compare.methods``) for every training
    size and seed on one split of ``data_dir``, then write the tables into ``out``.

    ``train_sizes``: image counts or "all"; smaller subsets are nested in larger ones.
    ``split_file``: the split to use (default: made once, seeded, as ``out/split.json``).
    ``mask_dir``: mask folder for evaluation only (e.g. "labels" for simulator instances).
    ``overrides``: dotted config overrides applied to every method (e.g. {"runtime.device":
    "cpu"}); the methods' own overrides win.
    ``paper_protocol``: also score every run with the SAGE-GAN code's protocol (512x768 resize,
    eroded truth, F1@0.5; see `sagegan.metrics.protocol`), in extra table columns.
    ``finished_only``: train and evaluate nothing; tabulate the runs already evaluated (the
    tables of an unfinished comparison, e.g. while it runs elsewhere).
    ``group_pattern``: a regular expression whose first group is a stem's sample (e.g.
    ``^([a-z]+)_``): training subsets then take the samples in turn (see `subset_order`).
    ``workers``: processes that run the (size, seed) groups side by side (see the module doc).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    data_dir, out = Path(data_dir), Path(out)
    methods = check_methods(list(methods))
    seeds = _check_seeds(list(seeds))
    preset_config = config_from_cli(preset, None, dict(overrides or {}))
    fresh = not out.exists()
    try:
        split_path, split, jobs = plan_jobs(
            out, data_dir, split_file, preset_config, train_sizes, seeds, methods, group_pattern
        )
        # each test stem's sample, known before any training (a ConfigError otherwise)
        sample_of = None
        if group_pattern is not None:
            sample_of = groups_from_pattern(split.test, group_pattern)
    except SageganError:
        if fresh:  # a setting refused before any work leaves nothing behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    sizes = sorted({job.size for job in jobs})
    protocols = ("native", "paper") if paper_protocol else ("native",)
    if finished_only:
        jobs = [job for job in jobs if _evaluated(job.run_dir(out), protocols)]
        if not jobs:
            raise DataError(out, "no finished run to tabulate yet")
    setting = _Setting(
        out, data_dir, split_path, split, preset, overrides, mask_dir, resume, protocols, methods
    )
    runs = _run_all(jobs, setting, workers, progress)
    return _tabulate(setting, runs, seeds, sizes, sample_of)


def _tabulate(
    setting: _Setting,
    runs: list[dict[str, Any]],
    seeds: Sequence[int],
    sizes: Sequence[int],
    sample_of: Mapping[str, str] | None,
) -> ComparisonResult:
    """Aggregate the runs over seeds (and per sample when ``sample_of`` names the test images'
    samples) and write the comparison's tables."""
    out, split = setting.out, setting.split
    metrics = METRICS + (PAPER_METRICS if "paper" in setting.protocols else ())
    summary = aggregate(runs, metrics)
    record = {
        "sagegan_version": sagegan.__version__,
        "data_dir": str(setting.data_dir),
        "preset": setting.preset,
        "overrides": dict(setting.overrides or {}),
        "methods": {name: METHODS[name] for name in setting.methods},
        "seeds": list(seeds),
        "train_sizes": list(sizes),
        "split": str(setting.split_path),
        "test_stems": sorted(split.test),
        "metric": "test-set per-image mean; mean and sample sd over seeds",
    }
    by_sample = None
    if sample_of is not None:
        folders = {protocol: EVAL_FOLDERS[protocol] for protocol in setting.protocols}
        by_sample = sample_table(out, runs, sample_of, folders)
    files = write_tables(out, runs, summary, record, len(split.test), metrics, by_sample)
    LOGGER.info("comparison of %d runs written to %s", len(runs), out)
    return ComparisonResult(
        out=out,
        split_path=setting.split_path,
        runs=runs,
        summary=summary,
        files=files,
        by_sample=[] if by_sample is None else by_sample.rows,
    )


def _metrics_files(run_dir: Path, protocols: Sequence[str]) -> list[Path]:
    """The run's test-evaluation files, one per protocol."""
    return [run_dir / EVAL_FOLDERS[protocol] / METRICS_FILE for protocol in protocols]


def _evaluated(run_dir: Path, protocols: Sequence[str]) -> bool:
    """Whether the run is trained and test-evaluated under every protocol."""
    return all(path.is_file() for path in _metrics_files(run_dir, protocols))


def _run_group(
    group: tuple[Job, ...], setting: _Setting
) -> tuple[tuple[Job, ...], list[dict[str, Any]]]:
    """Run one group's jobs in order (in a worker process)."""
    return group, [_run(job, setting) for job in group]


def _run_all(
    jobs: Sequence[Job], setting: _Setting, workers: int, progress: bool
) -> list[dict[str, Any]]:
    """Every job's row, in the order of ``jobs``, from this process or from ``workers``."""
    if workers == 1:
        bar = tqdm(jobs, desc="comparison", unit="run", disable=not progress)
        return [_run(job, setting) for job in bar]
    threads = max(1, torch.get_num_threads() // workers)
    rows: dict[Job, dict[str, Any]] = {}
    context = multiprocessing.get_context("spawn")  # fork is unsafe with torch's threads
    # leaving the block terminates the workers, so an error does not wait for the other runs
    with (
        context.Pool(workers, initializer=torch.set_num_threads, initargs=(threads,)) as pool,
        tqdm(total=len(jobs), desc="comparison", unit="run", disable=not progress) as bar,
    ):
        for group, group_rows in pool.imap_unordered(
            functools.partial(_run_group, setting=setting), group_by_size_and_seed(jobs)
        ):
            rows.update(zip(group, group_rows, strict=True))
            bar.update(len(group))
    return [rows[job] for job in jobs]


def _run(job: Job, setting: _Setting) -> dict[str, Any]:
    """Train (or reuse) and evaluate one run; its row of the per-run table."""
    run_dir = job.run_dir(setting.out)
    config = method_config(job.method, setting.preset, job.seed, setting.overrides)
    if job.method not in UNTRAINED and not (
        setting.resume and _evaluated(run_dir, setting.protocols)
    ):
        _trained(run_dir, job, config, setting)
    row: dict[str, Any] = {
        "method": job.method,
        "train_images": job.size,
        "seed": job.seed,
        "run": str(run_dir.relative_to(setting.out)),
    }
    reused = True
    evaluated = _metrics_files(run_dir, setting.protocols)
    for protocol, metrics_file in zip(setting.protocols, evaluated, strict=True):
        summary, reused_one = _evaluation(
            run_dir, setting, _eval_device(config), protocol, job.method
        )
        reused = reused and reused_one
        columns = METRICS if protocol == "native" else PAPER_METRICS
        row.update(
            {column: _score(summary, _summary_key(column), metrics_file) for _, column in columns}
        )
    LOGGER.info(
        "%s n=%d seed=%d: Dice %.3f, F1@0.5 %.3f%s",
        job.method,
        job.size,
        job.seed,
        row["dice"],
        row["f1@0.50"],
        " (reused)" if reused else "",
    )
    return row
