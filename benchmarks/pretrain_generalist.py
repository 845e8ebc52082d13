"""Train the generalist model that sagegan ships (`--model builtin`): EMPS training images plus
simulated SEM images of four looks, one reproducible command.

    OMP_NUM_THREADS=2 python benchmarks/pretrain_generalist.py --out /tmp/generalist \\
        --emps ../shared/data/emps --iterations 4000 --seed 0

`--looks ... film` adds a fifth look (agglomerates among support-film features); `--init builtin
--lr 1e-4` continues from the shipped weights instead of a fresh network (docs/benchmarks.md,
"Candidate generalists").

Writes OUT/data (links to the EMPS training and validation pairs of benchmarks/splits/emps.json,
never its test images, and the simulated pairs with their instance labels as masks), OUT/split.json
(training: EMPS training + simulated; validation: EMPS validation only, so that model selection and
the instance split are chosen on real micrographs) and OUT/run, trained with the auto recipe.
Rerunning the command resumes an interrupted run. pdc_sem and tio2_sem are not used: their
licences do not allow shipping derivatives.

`--fingerprint-builtin` only (re)computes the shipped model's domain fingerprint (what its
training images look like to it, `sagegan.infer.domain`) from the same data, into its folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from sagegan.data.atomic_files import write_json_atomic
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import Split, load_split, save_split
from sagegan.infer.instances import SCALED_MIN_SIZE_FRACTION
from sagegan.models.builtin import BUILTIN_FOLDER
from sagegan.models.checkpoint import (
    load_model,
    load_weights,
    read_training_info,
    resolve_checkpoint,
    save_weights,
)
from sagegan.models.run_folder import SEGMENTER_FILE, TRAINING_INFO_FILE, CheckpointFolder
from sagegan.synth import write_dataset
from sagegan.synth.config import SimulatorConfig
from sagegan.train import config_from_cli, train
from sagegan.train.domain_fingerprint import sample_fingerprint

REPO = Path(__file__).resolve().parents[1]
EMPS_SPLIT = REPO / "benchmarks" / "splits" / "emps.json"
# Agglomerates of 8-20 px grains, sharper than the pdc look, on a support film whose bright
# edges and sheets are never labelled (what the Pd/C SEM `large_*` images show beside their
# particles)
FILM_LOOK = {
    "layout_weights": {"clusters": 0.7, "random": 0.15, "chains": 0.15},
    "layout_options": {
        "clusters": {"members": (5.0, 60.0), "overlap": (0.1, 0.35), "compactness": 0.8}
    },
    "coverage": (0.01, 0.06),
    "scatter_fraction": (0.0, 0.2),
    "diameter_median_nm": (8.0, 20.0),
    "blur_sigma_px": (0.6, 1.8),
    "steps": 0.3,
    "dose": (80.0, 600.0),
    "dome": (0.0, 0.6),
    "edge_brightening": (0.05, 0.2),
    "film_coverage": (0.03, 0.3),
    "film_sheet": (-0.06, 0.1),
    "film_rim": (0.2, 0.45),
}
# look -> (simulator preset, overrides): bright particles on carbon at two scales, TiO2-like
# faceted agglomerates, the broad mixture (TEM-like contrast comes from EMPS and inversion) and
# agglomerates among support-film features (not in the shipped model's mix: `--looks`)
SIMULATED = {
    "pdc": ("pdc", {}),
    "pdcsmall": ("pdc", {"pixel_size_nm": 4.0}),
    "tio2": ("tio2", {}),
    "mixed": ("mixed", {}),
    "film": ("pdc", FILM_LOOK),
}
SHIPPED_LOOKS = ("pdc", "pdcsmall", "tio2", "mixed")


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.symlink(source.resolve(), target)


def build_data(out: Path, emps: Path, looks: list[str], per_look: int, seed: int) -> Split:
    """The mixed dataset folder and its split (made once; reused when it exists). Each look's
    images are seeded by its place in ``SIMULATED``, so a look renders the same in any mix."""
    data, split_file = out / "data", out / "split.json"
    if split_file.is_file():
        return load_split(split_file)
    emps_split = load_split(EMPS_SPLIT)
    for stem in emps_split.train + emps_split.val:
        for part in ("images", "masks"):
            (source,) = sorted((emps / part).glob(f"{stem}.*"))
            _link(source, data / part / source.name)
    simulated = []
    for offset, (look, (preset, overrides)) in enumerate(SIMULATED.items()):
        if look not in looks:
            continue
        folder = out / "simulated" / look
        config = SimulatorConfig.preset(preset, **overrides)
        write_dataset(folder, per_look, seed=seed + offset, config=config, overwrite=True)
        for image in sorted((folder / "images").glob("*.tif")):
            stem = f"{look}_{image.stem}"
            _link(image, data / "images" / f"{stem}.tif")
            _link(folder / "labels" / image.name, data / "masks" / f"{stem}.tif")
            simulated.append(stem)
    split = Split(
        train=emps_split.train + simulated,
        val=emps_split.val,
        test=[],
        seed=seed,
        test_fraction=0.0,
    )
    save_split(split, split_file)
    return split


def package(run: Path, dest: Path, recipe: dict) -> None:
    """Copy the run's best segmenter into ``dest`` as the builtin model: fp16 weights and an
    info.json with the split settings the plan chose for the whole training set (a seed depth of
    1 px and its smallest object; the validation-tuned split fits EMPS alone), the smallest object
    scaled per image by ``SCALED_MIN_SIZE_FRACTION``."""
    folder = resolve_checkpoint(run, "best")
    state, metadata = load_weights(folder / SEGMENTER_FILE)
    half = {
        key: value.half() if value.is_floating_point() else value for key, value in state.items()
    }
    save_weights(dest / SEGMENTER_FILE, half, {**metadata, "stored_as": "float16"})
    info = read_training_info(folder / SEGMENTER_FILE)
    config = info["config"]
    instances = {**config["instances"], "min_depth_px": 1.0}
    instances["min_size_fraction"] = SCALED_MIN_SIZE_FRACTION
    instances.pop("tune", None)
    domain = CheckpointFolder(folder).domain_path()
    if domain.is_file():
        shutil.copyfile(domain, CheckpointFolder(dest).domain_path())
    write_json_atomic(
        dest / TRAINING_INFO_FILE,
        {
            "config": {"data": config["data"], "model": config["model"], "instances": instances},
            "stage": info["stage"],
            "epoch": info["epoch"],
            "metrics": info["metrics"],
            "recipe": recipe,
        },
    )


def fingerprint_builtin(data: Path, split: Split) -> None:
    """Record the shipped model's domain fingerprint from its training and validation images."""
    model, _ = load_model(BUILTIN_FOLDER)
    info = read_training_info(BUILTIN_FOLDER / SEGMENTER_FILE)
    databar = info["config"]["data"].get("databar", "auto")
    pairs = {pair.stem: pair for pair in find_pairs(data)}
    samples = [load_sample(pairs[stem], databar) for stem in split.train + split.val]
    fingerprint = sample_fingerprint(model, samples)
    path = CheckpointFolder(BUILTIN_FOLDER).domain_path()
    fingerprint.save(path)
    print(f"fingerprint of {len(samples)} images, threshold {fingerprint.threshold:.2f}, in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--emps", type=Path, default=REPO.parent / "shared" / "data" / "emps")
    parser.add_argument("--iterations", type=int, default=4000)
    parser.add_argument("--per-look", type=int, default=40, help="simulated images per look")
    parser.add_argument(
        "--looks",
        nargs="+",
        choices=list(SIMULATED),
        default=list(SHIPPED_LOOKS),
        help="simulated looks in the mix (default: the shipped model's)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--init",
        help="continue from these weights (`builtin`, a run or checkpoint folder) instead of a "
        "fresh network",
    )
    parser.add_argument("--lr", type=float, help="stage-1 learning rate (default: the recipe's)")
    parser.add_argument(
        "--amp",
        choices=("none", "bf16", "auto"),
        default="none",
        help="training precision: float32 by default, as the shipped model was trained; `auto` "
        "lets the plan choose bf16 where it measures faster",
    )
    parser.add_argument(
        "--package",
        action="store_true",
        help="copy the trained model as a builtin model into --package-dir",
    )
    parser.add_argument(
        "--package-dir",
        type=Path,
        default=BUILTIN_FOLDER,
        help=f"where --package writes (default: the package's own, {BUILTIN_FOLDER}); another "
        "folder holds a candidate to compare with `benchmarks/zero_shot.py --model DIR`",
    )
    parser.add_argument(
        "--fingerprint-builtin",
        action="store_true",
        help="only record the shipped model's domain fingerprint from the data (no training)",
    )
    args = parser.parse_args()
    if not (args.emps / "images").is_dir():
        raise SystemExit(f"{args.emps}: no EMPS dataset here (images/ missing)")
    split = build_data(args.out, args.emps, args.looks, args.per_look, args.seed)
    if args.fingerprint_builtin:
        fingerprint_builtin(args.out / "data", split)
        return
    run = args.out / "run"
    resume = (run / "last.json").is_file()
    overrides = {"plan.iterations": args.iterations, "seed": args.seed, "runtime.amp": args.amp}
    overrides.update({"model.init": args.init} if args.init else {})
    overrides.update({"pretrain.lr": args.lr} if args.lr else {})
    config = None if resume else config_from_cli("auto", None, overrides)
    train(args.out / "data", run, config, resume=resume, split_path=args.out / "split.json")
    record = {
        "emps_split": str(EMPS_SPLIT.relative_to(REPO)),
        "training_images": len(split.train),
        "validation_images": len(split.val),
        "simulated_looks": {look: list(SIMULATED[look]) for look in args.looks},
        "per_look": args.per_look,
        "iterations": args.iterations,
        "init": args.init,
        "lr": args.lr,
        "amp": args.amp,
        "seed": args.seed,
    }
    (args.out / "recipe.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"trained {run}; recipe in {args.out / 'recipe.json'}")
    if args.package:
        args.package_dir.mkdir(parents=True, exist_ok=True)
        package(run, args.package_dir, record)
        print(f"packaged as a builtin model in {args.package_dir}")


if __name__ == "__main__":
    main()
