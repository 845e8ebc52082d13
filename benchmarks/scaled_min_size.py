"""Choosing the builtin model's ``instances.min_size_fraction`` without its test images.

The builtin model predicts each design image once; only the instance split is repeated, for
each fraction (`split_instances`, step 5: the smallest object scaled to the image's typical
particle). The design set is what the model was trained and selected on: the EMPS validation
split, and fresh simulated images of its four simulated looks (seeds it never saw). The fraction
with the best mean F1@0.5 over these five groups is chosen. Real validation images of other
datasets (``--check``) are scored for information and do not take part in the choice:

    OMP_NUM_THREADS=2 python benchmarks/scaled_min_size.py --check tio2_sem pdc_sem \\
        --results benchmarks/results/scaled_min_size.json

Prints one row per fraction: mean F1@0.5 per group, the design mean, the objects predicted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from pretrain_generalist import EMPS_SPLIT, REPO, SIMULATED
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import Pair, find_pairs
from sagegan.data.splits import load_split
from sagegan.infer.instances import run_split_options, split_instances
from sagegan.infer.options import PredictionOptions
from sagegan.metrics.objects import match_instances
from sagegan.models.builtin import BUILTIN_FOLDER
from sagegan.models.checkpoint import read_training_info
from sagegan.models.run_folder import SEGMENTER_FILE
from sagegan.synth import write_dataset
from sagegan.synth.config import SimulatorConfig

DATA = REPO.parent / "shared" / "data"
FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.5)
SIMULATION_SEED = 5000  # the builtin's simulated training images used seeds 0-3


def validation_pairs(dataset: str, split_file: Path) -> list[Pair]:
    """The validation pairs of a real dataset under its committed split."""
    stems = set(load_split(split_file).val)
    return [pair for pair in find_pairs(DATA / dataset) if pair.stem in stems]


def simulated_pairs(folder: Path, per_look: int) -> dict[str, list[Pair]]:
    """``per_look`` fresh simulated images of each look, with their instance labels."""
    groups = {}
    for offset, (look, (preset, overrides)) in enumerate(SIMULATED.items()):
        config = SimulatorConfig.preset(preset, **overrides)
        write_dataset(folder / look, per_look, seed=SIMULATION_SEED + offset, config=config)
        groups[f"simulated {look}"] = find_pairs(folder / look, mask_dir="labels")
    return groups


class Builtin:
    """The builtin model on PyTorch fp32 (the same numbers anywhere), loaded once."""

    def __init__(self) -> None:
        self.options = PredictionOptions(backend="torch", precision="fp32", device="cpu")
        self.runner, _ = self.options.load("builtin")
        self.info = read_training_info(BUILTIN_FOLDER / SEGMENTER_FILE)


def score_group(model: Builtin, pairs: list[Pair], fractions: tuple[float, ...]) -> dict[str, Any]:
    """Mean F1@0.5 and predicted object count per fraction over one group of images."""
    options, info = model.options, model.info
    split = run_split_options(info)
    f1 = np.zeros((len(fractions), len(pairs)))
    objects = np.zeros(len(fractions), dtype=int)
    for column, pair in enumerate(pairs):
        sample = load_sample(pair, options.databar_for(info))
        prediction = options.predict(model.runner, sample.image)
        for row, fraction in enumerate(fractions):
            labels = split_instances(
                prediction.probability,
                **prediction.instance_maps,
                **{**split, "min_size_fraction": fraction},
            )
            f1[row, column] = match_instances(np.asarray(sample.labels), labels, thresh=0.5).f1
            objects[row] += int(labels.max())
    return {"images": len(pairs), "f1@0.5": f1.mean(axis=1).tolist(), "objects": objects.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--per-look", type=int, default=8, help="simulated images per look")
    parser.add_argument("--check", nargs="*", default=[], help="real datasets (validation split)")
    parser.add_argument("--results", type=Path, help="write the table as JSON here")
    args = parser.parse_args()
    fractions = tuple(args.fractions)
    model = Builtin()
    with tempfile.TemporaryDirectory() as folder:
        design = {"emps validation": validation_pairs("emps", EMPS_SPLIT)}
        design.update(simulated_pairs(Path(folder), args.per_look))
        scores = {name: score_group(model, pairs, fractions) for name, pairs in design.items()}
    splits = REPO / "benchmarks" / "splits"
    checks = {
        f"{name} validation (check)": score_group(
            model, validation_pairs(name, splits / f"{name}.json"), fractions
        )
        for name in args.check
    }
    mean = np.mean([group["f1@0.5"] for group in scores.values()], axis=0)
    chosen = fractions[int(np.argmax(mean))]
    groups = {**scores, **checks}
    print("| fraction | " + " | ".join(groups) + " | design mean |")
    print("|---" * (len(groups) + 2) + "|")
    for row, fraction in enumerate(fractions):
        cells = [f"{g['f1@0.5'][row]:.3f} ({g['objects'][row]})" for g in groups.values()]
        print(f"| {fraction:g} | " + " | ".join(cells) + f" | {mean[row]:.3f} |")
    print(f"chosen: {chosen:g} (best design mean F1@0.5)")
    if args.results:
        document = {"fractions": list(fractions), "groups": groups, "design_mean": mean.tolist()}
        document["chosen"] = chosen
        args.results.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
