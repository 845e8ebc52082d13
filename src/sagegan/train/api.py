"""``train(...)``: the whole two-stage run from a dataset folder to a run folder (the CLI calls it).

RUN/ holds ``config.yaml`` (resolved config), ``split.json`` (unless a split file is given),
``log.jsonl``, ``grids/``, ``attention/``, ``checkpoints/`` and the pointers ``last.json``,
``best.json``, ``best-pretrain.json``, ``best-gan.json`` (see ``sagegan.models.run_folder``).
After training, each best checkpoint's instance split is chosen on the validation images and
recorded in its ``info.json`` (``sagegan.train.split_tuning``; ``instances.tune``), and ``best``
moves to the kept checkpoint that scores highest at its own tuned split
(``sagegan.train.final_choice``).

Only the training and validation images of the split are ever read: the trainer receives those
samples only, and a :class:`~sagegan.train.guards.SplitGuard` records every stem read and refuses
test stems (``RunResult.stems_read``). Every training/validation pair is loaded before training
starts, and all unreadable pairs are reported together. A synthetic bank (``data.bank``) adds
training samples only: it is checked against the split before any image is read
(`sagegan.data.bank`), feeds pretraining's patches (`sagegan.data.mixing`; they appear in
``stems_read`` as ``bank:<stem>``), and is recorded as ``bank`` (folder, pair count) in every
checkpoint's ``info.json``.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagegan.data.bank import Bank
from sagegan.data.dataset import Sample, SegmentationDataset
from sagegan.data.mixing import BankMixDataset
from sagegan.data.pairing import Pair, find_pairs
from sagegan.data.resample import resample_sample
from sagegan.data.splits import Split, load_or_create_split
from sagegan.errors import ConfigError, DataError, SageganError
from sagegan.models.checkpoint import resolve_checkpoint
from sagegan.models.run_folder import RunFolder
from sagegan.train.checkpointing import Checkpointer
from sagegan.train.config import TrainConfig, deep_merge, load_yaml, nest_dotted, save_config
from sagegan.train.data_record import check_same_data, check_same_split
from sagegan.train.domain_fingerprint import fingerprint_run
from sagegan.train.engine import RunContext, StageOutcome
from sagegan.train.final_choice import choose_final_checkpoint
from sagegan.train.guards import SplitGuard
from sagegan.train.initial_weights import (
    read_initial_segmenter,
    with_init_architecture,
    with_init_head,
)
from sagegan.train.planning import load_plan_overrides, plan_run, save_plan
from sagegan.train.run_bank import open_run_bank
from sagegan.train.run_log import RunLog
from sagegan.train.run_samples import check_native_samples, load_run_samples, working_samples
from sagegan.train.run_stages import run_stages
from sagegan.train.runtime import Runtime, resolve_amp, setup_runtime, shutdown
from sagegan.train.split_tuning import tune_run

LOGGER = logging.getLogger("sagegan")
STAGES = ("all", "pretrain", "gan")


@dataclass
class RunResult:
    """Outcome of ``train``: where things are and how each stage ended."""

    run_dir: Path
    split_path: Path
    stages: dict[str, StageOutcome]
    best: dict[str, Any] | None
    stems_read: frozenset[str]


def train(
    data_dir: str | Path,
    out: str | Path,
    config: TrainConfig | None = None,
    stage: str = "all",
    resume: bool = False,
    split_path: str | Path | None = None,
    mask_dir: str | None = None,
) -> RunResult:
    """Train on the image/mask pairs of ``data_dir`` into the run folder ``out``.

    ``stage``: "all" (pretraining then the GAN stage), "pretrain", or "gan" (needs this run
    folder's pretrained segmenter). ``resume``: continue from ``out/last.json``; the run's saved
    ``config.yaml`` is used and ``config`` may be None (a different config is an error).
    ``split_path``: an existing split file to use (else ``out/split.json`` is made or reloaded).
    ``mask_dir``: the folder of ``data_dir`` holding the masks (default ``masks``; e.g. ``labels``
    for instance label maps).
    Under ``torchrun`` every process calls this; rank 0 writes the files.
    """
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r} (choose from {', '.join(STAGES)})")
    run_dir = Path(out)
    config = _resolve_config(run_dir, config, resume)
    runtime = setup_runtime(config.runtime)
    fresh = not run_dir.exists()
    try:
        pairs = find_pairs(data_dir, mask_dir=mask_dir)
        return _train(Path(data_dir), pairs, run_dir, config, stage, resume, split_path, runtime)
    except SageganError:
        if fresh and runtime.is_main:
            _remove_unstarted_run(run_dir)
        raise
    finally:
        shutdown(runtime)


def _remove_unstarted_run(run_dir: Path) -> None:
    """Remove the run folder this call made when it was refused before the first checkpoint
    (bad data, a bad setting): a refused start leaves nothing behind."""
    if run_dir.is_dir() and not RunFolder(run_dir).checkpoints_dir().exists():
        shutil.rmtree(run_dir, ignore_errors=True)


def _resolve_config(run_dir: Path, config: TrainConfig | None, resume: bool) -> TrainConfig:
    saved_path = RunFolder(run_dir).config_path()
    if resume and saved_path.is_file():
        saved = TrainConfig.from_dict(load_yaml(saved_path))
        given, kept = _without_plan_keep(config), _without_plan_keep(saved)
        if config is not None and given != kept:
            key = _first_difference(given, kept)
            raise ConfigError(
                f"{saved_path}: resuming needs the run's own config, but {key} differs "
                "(start a new run folder to change settings)"
            )
        return saved
    if config is None:
        if resume:
            raise ConfigError(
                f"{run_dir}: nothing to resume (no {saved_path.name}); "
                "start a new run without resume"
            )
        raise ConfigError("a config is needed to start a run (e.g. config_from_cli('cpu-small'))")
    return config


def _without_plan_keep(config: TrainConfig | None) -> dict[str, Any]:
    """``config`` as a dict less ``plan.keep``, which steers only a new plan (a resumed run reads
    its plan back), so that a run resumes whatever keys a later version pins."""
    values = {} if config is None else config.to_dict()
    values.get("plan", {}).pop("keep", None)
    return values


def _first_difference(first: dict[str, Any], second: dict[str, Any], prefix: str = "") -> str:
    for key in sorted(set(first) | set(second)):
        a, b = first.get(key), second.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            if a != b:
                return _first_difference(a, b, f"{prefix}{key}.")
        elif a != b:
            return f"{prefix}{key}"
    return prefix.rstrip(".") or "the config"


def _train(
    data_dir: Path,
    pairs: list[Pair],
    run_dir: Path,
    config: TrainConfig,
    stage: str,
    resume: bool,
    split_path: str | Path | None,
    runtime: Runtime,
) -> RunResult:
    folder = RunFolder(run_dir)
    checkpointer = Checkpointer(run_dir, runtime)
    last = checkpointer.read_pointer("last")
    _check_before_reading(run_dir, config, stage, resume, last)
    if runtime.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, folder.config_path())
    check_same_data(run_dir, data_dir, pairs, resume and last is not None, runtime)
    split_file = Path(split_path) if split_path is not None else folder.split_path()
    split = _load_split(split_file, pairs, config, runtime)
    check_same_split(run_dir, split_file, split, resume and last is not None, runtime)
    guard = SplitGuard(split.test)
    bank = open_run_bank(config, data_dir, split)
    native_train, val_samples = load_run_samples(pairs, split, config, guard)
    stats = check_native_samples(native_train, val_samples, data_dir, split)
    init = read_initial_segmenter(config)  # None without model.init
    config = with_init_architecture(config, init)  # planned and timed as it is trained
    if config.plan.enabled:  # the plan may choose the working resolution (data.scale)
        reuse_plan = resume or stage == "gan"  # the GAN stage follows pretraining's plan
        config = _planned(config, native_train, val_samples, run_dir, runtime, reuse_plan)
        runtime.amp_dtype = resolve_amp(config.runtime.amp, runtime.device)  # bf16 if planned
    train_samples = working_samples(native_train, stats, config, data_dir, split, runtime.is_main)
    config = with_init_head(config, init)
    dataset = _training_dataset(train_samples, config, bank)
    log = RunLog(run_dir, enabled=runtime.is_main)
    resumed = checkpointer.load_state("last") if resume and last is not None else None
    if resumed is not None and runtime.is_main:
        checkpointer.repair_best_pointers(resumed[1])
        log.truncate_after(resumed[1]["stage"], resumed[1]["epoch"])
    ctx = RunContext(
        run_dir=run_dir,
        config=config,
        runtime=runtime,
        checkpointer=checkpointer,
        log=log,
        train_dataset=dataset,
        val_samples=val_samples,
        split_guard=guard,
        info={
            "config": config.to_dict(),
            "split": str(split_file.resolve()),
            **({} if bank is None else {"bank": bank.record()}),
        },
        pretrain_budget_seconds=None
        if config.plan.budget_minutes is None or not config.plan.enabled
        else 60.0 * config.plan.budget_minutes,
        gan_dataset=dataset.real if isinstance(dataset, BankMixDataset) else None,
    )
    init_state = None if init is None else init.state
    outcomes = run_stages(ctx, stage, resumed, train_samples, init_state)
    if runtime.is_main and outcomes and config.instances.tune:
        tune_run(run_dir, val_samples, runtime, config.instances)
        choose_final_checkpoint(run_dir, val_samples, runtime, config.instances)
    if runtime.is_main and outcomes:
        fingerprint_run(run_dir, native_train, val_samples)
    runtime.barrier()
    return RunResult(
        run_dir=run_dir,
        split_path=split_file,
        stages=outcomes,
        best=checkpointer.read_pointer("best"),
        stems_read=frozenset(guard.read),
    )


def _training_dataset(
    samples: list[Sample], config: TrainConfig, bank: Bank | None = None
) -> SegmentationDataset | BankMixDataset:
    """The patches, augmentation and targets both stages train on; with a bank, pretraining's
    patches are cut from it with probability ``data.bank_fraction``, at the working resolution
    (the GAN stage trains on ``.real``, the real images alone)."""
    data = config.data
    real = SegmentationDataset(
        samples,
        patch_size=data.patch_size,
        augment=data.augment,
        samples_per_epoch=data.samples_per_epoch,
        foreground_bias=data.foreground_bias,
        seed=config.seed,
        gap_px=data.gap_px,
        contact_weight=data.contact_weight,
        boundary_px=data.boundary_px,
        centre_map=data.centre_map,
    )
    if bank is None:
        return real
    synthetic = [resample_sample(sample, data.scale) for sample in bank.load()]
    return BankMixDataset(real, synthetic, data.bank_fraction)


def _planned(
    config: TrainConfig,
    train_samples: list[Sample],
    val_samples: list[Sample],
    run_dir: Path,
    runtime: Runtime,
    reuse_plan: bool,
) -> TrainConfig:
    """``config`` with its plan applied: the run's ``plan.json`` when ``reuse_plan`` and it has
    one (resuming, or the GAN stage after pretraining), else a new plan made on rank 0 from the
    native training samples (written, logged and shared with every rank)."""
    overrides = load_plan_overrides(run_dir) if reuse_plan else None
    if overrides is None:
        if runtime.is_main:
            plan, overrides = plan_run(config, train_samples, val_samples, runtime.device)
            save_plan(plan, overrides, run_dir)
            LOGGER.info(plan.summary())
        overrides = runtime.from_main(overrides)
    return TrainConfig.from_dict(deep_merge(config.to_dict(), nest_dotted(overrides)))


def _check_before_reading(
    run_dir: Path,
    config: TrainConfig,
    stage: str,
    resume: bool,
    last: dict[str, Any] | None,
) -> None:
    """Errors knowable before any data is read: a run folder already holding a run (unless
    resuming or adding the GAN stage), a ``model.init`` that does not exist."""
    if config.model.init is not None:
        resolve_checkpoint(config.model.init, "best")
    if resume or last is None:
        return
    if stage == "gan" and last.get("stage") == "pretrain":
        return
    last_pointer = RunFolder(run_dir).pointer_path("last").name
    raise ConfigError(
        f"{run_dir} already holds a training run ({last_pointer}); use resume or a new output "
        "folder"
    )


def _load_split(
    split_file: Path, pairs: list[Pair], config: TrainConfig, runtime: Runtime
) -> Split:
    """Rank 0 makes (or reloads) the split file; the other ranks then read it."""
    stems = [pair.stem for pair in pairs]
    options = {
        "seed": config.seed,
        "val_fraction": config.data.val_fraction,
        "test_fraction": config.data.test_fraction,
    }
    if runtime.is_main:
        split = load_or_create_split(split_file, stems, **options)
    runtime.barrier()
    if not runtime.is_main:
        split = load_or_create_split(split_file, stems, **options)
    if not split.train:
        raise DataError(split_file, "the split has no training images")
    if not split.val:
        raise DataError(
            split_file, "the split has no validation images (model selection needs some)"
        )
    return split
