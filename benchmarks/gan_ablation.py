"""Does the GAN pay? Synthetic pairs for the segmenter at scarce sizes, paired against one stage 1.

For each dataset of ../shared/data at its scarce training size (pdc_sem 3 images stratified by
sample, tio2_sem 5, emps 10: the nested subsets of benchmarks/real_data.py, cut from the committed
splits in benchmarks/splits) and each seed, one Attention U-Net is pretrained (preset ``auto``,
``--stage1-iterations``) and every arm continues from it:

* ``none``: S goes on training on the real images only, with the GAN stage's S learning rate, a
  plateau schedule and as many S updates as the GAN stage makes (``--stage2-epochs`` epochs of
  its length), validated every epoch, the best epoch kept;
* ``simulator_bank``: as ``none`` with ``data.bank`` = ``--bank-size`` simulator pairs whose
  particle size and coverage match the training masks;
* ``gan_online``: the SAGE-GAN stage (online augmentation from G) for ``--stage2-epochs`` epochs
  (the cpu-small GAN settings compare gives its GAN methods, ``gan.generator_ema`` 0.999, then
  ``--set``), scored at its ``best-gan`` checkpoint;
* ``gan_bank``: ``gan_online``'s G (its moving average) renders ``--bank-size`` pairs from the
  training masks and re-arranged training particles; then as ``none`` with that bank;
* ``builtin``: the builtin generalist fine-tuned (``model.init=builtin``, preset ``auto``) for the
  stage-1 plus stage-2 S updates.

Neither run nor bank sees a test image; validation picks epochs only. Every run is scored on the
test split at native resolution (``eval-test``) and with the paper's protocol
(``eval-test-paper``). Banks are scored for realism against the validation images (KID on the
builtin's features, `sagegan.metrics.kid`). Every step is skipped when its outputs exist: rerun
the command to resume. ``--set KEY=VALUE`` applies to every run (the arms' own keys win). Prints a
markdown table and a verdict per dataset (the issue's target: +0.03 Dice and +0.03 F1@0.5 over
``none``, mean paired gain) and writes JSON (merged per dataset into ``--results``).

    python benchmarks/gan_ablation.py --out /tmp/gan_ablation \\
        --results benchmarks/results/gan_ablation.json --workers 2
    python benchmarks/gan_ablation.py --out /tmp/gan_ablation --finished-only   # table so far
    OMP_NUM_THREADS=1 python benchmarks/gan_ablation.py --out /tmp/gan_ablation_smoke \\
        --datasets tio2_sem --seeds 1 --stage1-iterations 20 --stage2-epochs 1 --bank-size 8
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from real_data import DATASETS, fixed_split
from sagegan.commands.common import parse_overrides
from sagegan.compare.reuse import copy_pretraining, reuse_record
from sagegan.compare.run import EVAL_FOLDERS, TRAINED_FILE
from sagegan.compare.splits import subset_split
from sagegan.data.atomic_files import write_json_atomic
from sagegan.data.bank import open_bank
from sagegan.data.databar import DatabarWarning
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import SplitWarning, groups_from_pattern, load_split
from sagegan.evaluate import evaluate_run
from sagegan.evaluate.outputs import METRICS_FILE
from sagegan.generate.pairs import evenly_spaced, generate_pairs
from sagegan.generate.sources import read_mask_folder, simulator_config_for
from sagegan.infer.device import resolve_device
from sagegan.infer.options import PredictionOptions
from sagegan.metrics.kid import KID_PATCHES, RealismFeatures, realism_scores
from sagegan.models.run_folder import RunFolder
from sagegan.synth import write_dataset
from sagegan.train import TrainConfig, config_from_cli, train

ARMS = ("none", "simulator_bank", "gan_online", "gan_bank", "builtin")
GAN_ARMS = ("gan_online", "gan_bank")
TARGET_GAIN = 0.03
GAN_EMA = 0.999
BANK_FILE = "bank.json"
REALISM_IMAGES = KID_PATCHES
# (label, key): a run's score is the evaluation summary's "<key>_mean" (test per-image mean)
METRICS = (("Dice", "dice"), ("F1@0.5", "f1@0.50"))
PAPER = "paper_"


@dataclass(frozen=True)
class Job:
    """Every arm of one (dataset, seed), run in order in one process."""

    dataset: str
    data_dir: Path
    out: Path  # the dataset's folder: OUT/<dataset>
    split_path: Path  # the scarce subset's split file
    masks_dir: Path  # links to the training masks (the GAN bank's mask source)
    seed: int
    arms: tuple[str, ...]
    stage1_iterations: int
    stage2_epochs: int
    bank_size: int
    device: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    finished_only: bool = False

    @property
    def stage1_dir(self) -> Path:
        return self.out / f"s{self.seed}" / "stage1"

    def run_dir(self, arm: str) -> Path:
        return self.out / f"s{self.seed}" / "runs" / arm

    def bank_dir(self, kind: str) -> Path:
        return self.out / f"s{self.seed}" / "banks" / kind

    def say(self, what: str) -> None:
        print(f"{self.dataset} seed {self.seed} {what}", flush=True)


def _config(job: Job, *layers: Mapping[str, Any]) -> TrainConfig:
    """Preset ``auto`` <- this seed's shared settings <- ``layers`` in order (later wins)."""
    merged: dict[str, Any] = {
        "seed": job.seed,
        "runtime.device": job.device,
        "runtime.progress": False,
        "plan.iterations": job.stage1_iterations,
    }
    for layer in layers:
        merged.update(layer)
    return config_from_cli("auto", None, merged)


def stage1_config(job: Job) -> TrainConfig:
    return _config(job, job.overrides, {"gan.epochs": 0})


def gan_config(job: Job) -> TrainConfig:
    """Stage 1's config with a GAN stage of ``stage2_epochs`` epochs (no early stop)."""
    epochs = {"gan.epochs": job.stage2_epochs, "gan.patience": job.stage2_epochs}
    return _config(job, {"gan.generator_ema": GAN_EMA}, job.overrides, epochs)


def continuation_config(job: Job, plan: Mapping[str, Any], bank: Path | None) -> TrainConfig:
    """S from stage 1 trained as the GAN stage trains it (its learning rate, batch, epochs and
    plateau schedule; stage 1's planned patches), without G, on the real images (+ ``bank``)."""
    gan = gan_config(job).gan
    planned = {key: value for key, value in plan.items() if key.startswith(("data.", "instances."))}
    arm = {
        **planned,
        "plan.enabled": False,
        "model.init": str(job.stage1_dir.resolve()),
        "gan.epochs": 0,
        "data.bank": None if bank is None else str(bank.resolve()),
        "pretrain.epochs": job.stage2_epochs,
        "pretrain.patience": job.stage2_epochs,
        "pretrain.lr": gan.lr_segmenter,
        "pretrain.betas": list(gan.betas),
        "pretrain.batch_size": gan.batch_size,
        "pretrain.schedule": "plateau",
        "pretrain.warmup_iterations": 0,
        "pretrain.scheduler_factor": gan.scheduler_factor,
        "pretrain.scheduler_patience": gan.scheduler_patience,
        "pretrain.val_metric": gan.val_metric,
        "pretrain.val_every": gan.val_every,
    }
    return _config(job, job.overrides, arm)


def builtin_config(job: Job, plan: Mapping[str, Any]) -> TrainConfig:
    """The builtin fine-tuned like stage 1 for stage 1's plus the GAN stage's S updates."""
    gan_steps = math.ceil(plan["data.samples_per_epoch"] / gan_config(job).gan.batch_size)
    iterations = job.stage1_iterations + job.stage2_epochs * gan_steps
    arm = {"gan.epochs": 0, "model.init": "builtin", "plan.iterations": iterations}
    return _config(job, job.overrides, arm)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def stage1_plan(job: Job) -> dict[str, Any]:
    """The dotted config overrides stage 1's plan made (``plan.json``)."""
    return _read(RunFolder(job.stage1_dir).plan_path())["overrides"]


def trained(job: Job, run_dir: Path, config: TrainConfig, stage: str, label: str) -> dict | None:
    """The run's ``trained.json`` (stage outcomes, wall seconds): read back when finished, else
    trained (continuing an interrupted run) and written; None with ``finished_only``."""
    marker = run_dir / TRAINED_FILE
    if marker.is_file():
        return _read(marker)
    if job.finished_only:
        return None
    start = time.perf_counter()
    with warnings.catch_warnings():  # by design: the subset leaves training images out
        warnings.simplefilter("ignore", SplitWarning)
        result = train(job.data_dir, run_dir, config, stage, resume=True, split_path=job.split_path)
    record = {
        "seconds": time.perf_counter() - start,
        "stages": {name: dataclasses.asdict(outcome) for name, outcome in result.stages.items()},
        "split": str(job.split_path),
    }
    write_json_atomic(marker, record)
    job.say(f"{label}: trained in {record['seconds']:.0f} s")
    return record


def gan_run(job: Job, stage1: Mapping[str, Any]) -> dict | None:
    """The GAN stage on a copy of stage 1's run folder (as compare reuses a twin's stage 1)."""
    run_dir = job.run_dir("gan_online")
    config = gan_config(job)
    fresh = not (run_dir / TRAINED_FILE).is_file() and not RunFolder(run_dir).has_pointer("last")
    if fresh and not job.finished_only and reuse_record(run_dir) is None:
        outcome = stage1["stages"]["pretrain"]
        copy_pretraining(job.stage1_dir, run_dir, config, "stage1", outcome)
    return trained(job, run_dir, config, "gan", "gan_online (GAN stage)")


def evaluated(job: Job, run_dir: Path, which: str) -> dict[str, float] | None:
    """Test Dice and F1@0.5 of the run's ``which`` checkpoint, native and paper protocol
    (evaluated unless its metrics.json exists; None when missing with ``finished_only``)."""
    scores: dict[str, float] = {}
    for protocol, folder in EVAL_FOLDERS.items():
        metrics = run_dir / folder / METRICS_FILE
        if not metrics.is_file():
            if job.finished_only:
                return None
            evaluate_run(
                run_dir,
                job.data_dir,
                out=run_dir / folder,
                options=PredictionOptions(which=which, device=job.device),
                split="test",
                split_file=job.split_path,
                protocol=protocol,
                progress=False,
            )
        summary = _read(metrics)["summary"]
        prefix = "" if protocol == "native" else PAPER
        scores.update({prefix + key: float(summary[f"{key}_mean"]) for _, key in METRICS})
    return scores


def bank_realism(job: Job, bank: Path) -> dict[str, float]:
    """Realism scores of up to ``REALISM_IMAGES`` bank images (evenly spread) against the
    validation images, each loaded as training loads it (the bank through `open_bank`, which
    also refuses a bank that could carry a held-out image)."""
    split = load_split(job.split_path)
    samples = open_bank(bank, job.data_dir, [*split.val, *split.test]).load()
    fake = [samples[i].image for i in sorted(evenly_spaced(len(samples), REALISM_IMAGES))]
    val = set(split.val)
    real = [load_sample(p).image for p in find_pairs(job.data_dir) if p.stem in val]
    features = RealismFeatures(resolve_device(job.device))
    return realism_scores(real, fake, features, seed=job.seed)


def _bank(job: Job, kind: str, make: Callable[[Path], dict[str, Any]]) -> dict | None:
    """The bank's ``bank.json`` (read back when finished), else ``make(folder)`` (which writes
    the pairs and returns a record), timed and scored for realism."""
    folder = job.bank_dir(kind)
    manifest = folder / BANK_FILE
    if manifest.is_file():
        return _read(manifest)
    if job.finished_only:
        return None
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted bank is made again
    start = time.perf_counter()
    record = make(folder)
    record["seconds"] = time.perf_counter() - start
    record["count"] = len(find_pairs(folder))
    record["realism"] = bank_realism(job, folder)
    write_json_atomic(manifest, record)
    job.say(f"{kind} bank: {record['count']} pairs in {record['seconds']:.0f} s")
    return record


def simulator_bank(job: Job, plan: Mapping[str, Any]) -> dict | None:
    """``bank_size`` simulator pairs of the planned patch size whose particle size and coverage
    match the training masks."""

    def make(folder: Path) -> dict[str, Any]:
        size = tuple(plan["data.patch_size"])
        config = simulator_config_for(read_mask_folder(job.masks_dir), size)
        write_dataset(folder, job.bank_size, seed=job.seed, config=config, progress=False)
        return {"kind": "simulator", "simulator": config.to_dict()}

    return _bank(job, "simulator", make)


def gan_bank(job: Job, plan: Mapping[str, Any]) -> dict | None:
    """``bank_size`` pairs (one style each) from the GAN run's G at its ``best-gan`` checkpoint:
    the training masks, then re-arranged training particles at the planned patch size."""

    def make(folder: Path) -> dict[str, Any]:
        given = len(read_mask_folder(job.masks_dir))
        result = generate_pairs(
            job.run_dir("gan_online"),
            folder,
            masks_dir=job.masks_dir,
            rearranged=max(0, job.bank_size - given),
            styles_per_mask=1,
            seed=job.seed,
            size=tuple(plan["data.patch_size"]),
            which="best-gan",
            device=job.device,
            progress=False,
        )
        return {"kind": "gan", "checkpoint": str(result.checkpoint)}

    return _bank(job, "gan", make)


def realism_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The GAN run's realism per measured epoch (its log.jsonl): epoch, KID, online augmentation."""
    lines = (run_dir / "log.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [
        {
            "epoch": row["epoch"],
            "kid": row["realism"].get("kid"),
            "mix_probability": row.get("mix_probability"),
            "online_augmentation": row.get("online_augmentation"),
        }
        for row in rows
        if row.get("stage") == "gan" and isinstance(row.get("realism"), dict)
    ]


BANKS = {"simulator_bank": ("simulator", simulator_bank), "gan_bank": ("gan", gan_bank)}


def trained_arm(
    job: Job, arm: str, stage1: Mapping[str, Any]
) -> tuple[str, dict[str, float], dict[str, Any]] | None:
    """Train ``arm`` and what it needs: (checkpoint to score, wall seconds per step, extras);
    None when a step is missing with ``finished_only``."""
    plan = stage1_plan(job)
    seconds = {"stage1": stage1["seconds"]}
    if arm == "builtin":
        run = trained(job, job.run_dir(arm), builtin_config(job, plan), "all", arm)
        return None if run is None else ("best", {"stage2": run["seconds"]}, {})
    if arm in GAN_ARMS:
        gan = gan_run(job, stage1)
        if gan is None:
            return None
        seconds["gan"] = gan["seconds"]
        if arm == "gan_online":
            return "best-gan", seconds, {"realism_rows": realism_rows(job.run_dir(arm))}
    extras: dict[str, Any] = {}
    folder = None
    if arm in BANKS:
        kind, make_bank = BANKS[arm]
        extras["bank"] = make_bank(job, plan)
        if extras["bank"] is None:
            return None
        seconds["bank"] = extras["bank"]["seconds"]
        folder = job.bank_dir(kind)
    run = trained(job, job.run_dir(arm), continuation_config(job, plan, folder), "all", arm)
    if run is None:
        return None
    seconds["stage2"] = run["seconds"]
    return "best", seconds, extras


def run_arm(job: Job, arm: str, stage1: Mapping[str, Any]) -> dict[str, Any] | None:
    """One arm's record: test scores, seconds per step, compute minutes and its extras."""
    prepared = trained_arm(job, arm, stage1)
    if prepared is None:
        return None
    which, seconds, extras = prepared
    run_dir = job.run_dir(arm)
    start = time.perf_counter()
    scores = evaluated(job, run_dir, which)
    if scores is None:
        return None
    outcomes = _read(run_dir / TRAINED_FILE)["stages"]
    job.say(
        f"{arm}: Dice {scores['dice']:.3f}, F1@0.5 {scores['f1@0.50']:.3f} "
        f"(scored in {time.perf_counter() - start:.0f} s)"
    )
    return {
        **scores,
        "checkpoint": which,
        "run": str(run_dir),
        "seconds": seconds,
        "compute_minutes": sum(seconds.values()) / 60.0,
        "stages": outcomes,
        **extras,
    }


def run_job(job: Job) -> dict[str, Any]:
    """Stage 1 of (dataset, seed), then its arms in order: {"seed", "arms": {arm: record}}."""
    stage1 = trained(job, job.stage1_dir, stage1_config(job), "all", "stage1")
    arms: dict[str, Any] = {}
    if stage1 is not None:
        for arm in job.arms:
            record = run_arm(job, arm, stage1)
            if record is not None:
                arms[arm] = record
    return {"dataset": job.dataset, "seed": job.seed, "arms": arms}


def _setup(threads: int | None) -> None:
    """A process's torch threads (unchanged for None) and warnings: tio2_sem's masks spill into
    the databar, a known property of the data (`sagegan check` lists it) repeated by every load."""
    if threads is not None:
        torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", category=DatabarWarning)


def run_jobs(jobs: Sequence[Job], workers: int, threads: int | None) -> list[dict[str, Any]]:
    """Every job's result, in the order of ``jobs``: here, or in ``workers`` spawned processes
    (``threads`` torch threads each, default 1)."""
    if workers == 1 or len(jobs) < 2:
        _setup(threads)
        return [run_job(job) for job in jobs]
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_setup, initargs=(threads or 1,)
    ) as pool:
        return list(pool.map(run_job, jobs))


def _mean_sd(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return float(np.mean(values)), sd


def summarize(results: Sequence[Mapping[str, Any]], arms: Sequence[str]) -> list[dict[str, Any]]:
    """One row per arm over the seeds that have it: mean and sd of the scores, the paired
    difference to ``none`` (and per seed), compute minutes and the bank's KID."""
    none = {r["seed"]: r["arms"]["none"] for r in results if "none" in r["arms"]}
    rows = []
    for arm in arms:
        seeds = {r["seed"]: r["arms"][arm] for r in results if arm in r["arms"]}
        if not seeds:
            continue
        row: dict[str, Any] = {"arm": arm, "n_seeds": len(seeds)}
        for key in ("dice", "f1@0.50", f"{PAPER}dice", f"{PAPER}f1@0.50", "compute_minutes"):
            row[f"{key}_mean"], row[f"{key}_sd"] = _mean_sd([run[key] for run in seeds.values()])
        kids = [run["bank"]["realism"]["kid"] for run in seeds.values() if "bank" in run]
        row["bank_kid_mean"] = _mean_sd(kids)[0]
        for _, key in METRICS:
            paired = {
                f"s{seed}": run[key] - none[seed][key]
                for seed, run in seeds.items()
                if seed in none
            }
            mean, sd = _mean_sd(list(paired.values()))
            row[f"delta_{key}"] = (
                None if mean is None else {"mean": mean, "sd": sd, "seeds": paired}
            )
        rows.append(row)
    return rows


def verdict(dataset: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """Whether gan_online or gan_bank gains >= TARGET_GAIN in both Dice and F1@0.5 over none
    (mean paired gain over the seeds)."""
    parts, met = [], []
    for row in rows:
        if row["arm"] not in GAN_ARMS or row["delta_dice"] is None:
            continue
        dice, f1 = row["delta_dice"]["mean"], row["delta_f1@0.50"]["mean"]
        if dice >= TARGET_GAIN and f1 >= TARGET_GAIN:
            met.append(row["arm"])
        parts.append(f"{row['arm']} {dice:+.3f} Dice, {f1:+.3f} F1@0.5")
    if not parts:
        return f"{dataset}: no verdict (needs none and a GAN arm on the same seeds)"
    status = f"MET by {', '.join(met)}" if met else "NOT MET"
    target = f"+{TARGET_GAIN} Dice and +{TARGET_GAIN} F1@0.5 over none, mean paired gain"
    return f"{dataset}: target ({target}) {status} ({'; '.join(parts)})"


def _cell(mean: float | None, sd: float | None, digits: int = 3) -> str:
    if mean is None:
        return "–"
    return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _delta_cell(delta: Mapping[str, Any] | None) -> str:
    if delta is None:
        return "–"
    seeds = ", ".join(f"{value:+.3f}" for value in delta["seeds"].values())
    sd = "" if delta["sd"] is None else f" ± {delta['sd']:.3f}"
    return f"{delta['mean']:+.3f}{sd} ({seeds})"


def markdown(dataset: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The dataset's table and verdict."""
    header = ["arm", "seeds", "Dice", "F1@0.5", "paper Dice", "paper F1@0.5"]
    header += ["ΔDice vs none (per seed)", "ΔF1@0.5 vs none (per seed)", "minutes", "bank KID"]
    lines = [f"### {dataset}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["arm"], str(row["n_seeds"])]
        cells += [
            _cell(row[f"{key}_mean"], row[f"{key}_sd"])
            for key in ("dice", "f1@0.50", f"{PAPER}dice", f"{PAPER}f1@0.50")
        ]
        cells += [_delta_cell(row["delta_dice"]), _delta_cell(row["delta_f1@0.50"])]
        cells += [_cell(row["compute_minutes_mean"], row["compute_minutes_sd"], 1)]
        kid = row["bank_kid_mean"]
        cells.append("–" if kid is None else f"{kid:.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", verdict(dataset, rows), ""])


def prepare_dataset(name: str, data_dir: Path, out: Path) -> tuple[Path, Path, list[str]]:
    """The scarce subset's split file (``OUT/<name>/splits/n<k>.json``, as compare cuts it from
    the committed split) and a folder linking its training masks; also the training stems."""
    spec = DATASETS[name]
    split = load_split(fixed_split(name, data_dir))
    pattern = spec.get("groups")
    group_of = None if pattern is None else groups_from_pattern(split.train, pattern)
    split_path = subset_split(split, spec["sizes"][0], out / "splits", group_of)
    train_stems = load_split(split_path).train
    masks_dir = out / "train-masks"
    masks_dir.mkdir(parents=True, exist_ok=True)
    for pair in find_pairs(data_dir):
        link = masks_dir / pair.mask.name
        if pair.stem in train_stems and not link.exists():
            link.symlink_to(pair.mask.resolve())
    return split_path, masks_dir, train_stems


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    add = parser.add_argument
    add("--data", type=Path, default=default_data, help="shared data folder")
    add("--out", type=Path, required=True, help="runs and banks (resumable)")
    add("--results", type=Path, help="JSON file (merged per dataset); a .md table beside it")
    add("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    add("--seeds", type=int, default=3, help="seeds per dataset (3)")
    add("--seed-start", type=int, default=0, help="first seed (0)")
    add("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    add("--stage1-iterations", type=int, default=600, help="stage-1 iterations (plan.iterations)")
    add("--stage2-epochs", type=int, default=10, help="GAN-stage epochs and their S updates")
    add("--bank-size", type=int, default=200, help="pairs per synthetic bank")
    add("--device", default="auto", help="runtime.device and the evaluation's device")
    add("--workers", type=int, default=1, help="processes, each running one (dataset, seed)")
    add("--threads", type=int, help="torch threads per worker process (default 1)")
    add("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    add("--finished-only", action="store_true", help="train nothing: tabulate what is finished")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    data_root = Path(os.environ.get("SAGEGAN_SHARED_DATA", args.data))
    missing = [name for name in args.datasets if not (data_root / name / "images").is_dir()]
    if missing:
        raise SystemExit(f"{data_root}: no real data folder {', '.join(missing)}; nothing to run")
    overrides = parse_overrides(args.set)  # as `sagegan train --set` reads them (1e-4 a float)
    jobs, subsets = [], {}
    for name in args.datasets:
        split_path, masks_dir, stems = prepare_dataset(name, data_root / name, args.out / name)
        subsets[name] = {"split": str(split_path), "train_stems": stems}
        for seed in range(args.seed_start, args.seed_start + args.seeds):
            jobs.append(
                Job(
                    dataset=name,
                    data_dir=data_root / name,
                    out=args.out / name,
                    split_path=split_path,
                    masks_dir=masks_dir,
                    seed=seed,
                    arms=tuple(args.arms),
                    stage1_iterations=args.stage1_iterations,
                    stage2_epochs=args.stage2_epochs,
                    bank_size=args.bank_size,
                    device=args.device,
                    overrides=overrides,
                    finished_only=args.finished_only,
                )
            )
    start = time.perf_counter()
    results = run_jobs(jobs, args.workers, args.threads)
    datasets = {}
    for name in args.datasets:
        runs = [result for result in results if result["dataset"] == name]
        rows = summarize(runs, args.arms)
        datasets[name] = {**subsets[name], "runs": runs, "summary": rows}
        datasets[name]["verdict"] = verdict(name, rows)
        print(markdown(name, rows))
    print(f"wall time {time.perf_counter() - start:.0f} s")
    if args.results:
        write_results(args.results, datasets, vars(args))


def write_results(path: Path, datasets: dict[str, Any], args: dict[str, Any]) -> None:
    """Merge this invocation's datasets into the JSON at ``path`` and write their tables beside
    it as markdown."""
    merged = _read(path)["datasets"] if path.is_file() else {}
    merged.update({name: {**entry, "args": args} for name, entry in datasets.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"command": "python benchmarks/gan_ablation.py", "datasets": merged}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    tables = [markdown(name, entry["summary"]) for name, entry in merged.items()]
    path.with_suffix(".md").write_text("\n".join(tables), encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
