"""What the domain check of `segment` flags: a model's own test images, other datasets, and
corrupted copies of its test images.

For a trained model (a run folder, or `builtin`) and the real dataset it was trained on, checks
(`sagegan.infer.domain.check_image`) the first ``--images`` test images of the committed split
(benchmarks/splits/NAME.json; the check is scored, nothing is chosen on them), the same number of
test images of each other dataset, and those test images corrupted: uniform noise, shuffled
pixels, a flat field, inverted contrast, a 4 px Gaussian blur and a pixel size 4x the file's. A run
trained before the check existed gets its fingerprint first, from the split's training and
validation images (recorded in its checkpoint as training would). Prints a table and writes JSON:

    OMP_NUM_THREADS=2 python benchmarks/domain_check.py --model RUN --dataset tio2_sem \\
        --results benchmarks/results/domain_check_tio2_sem.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

from sagegan.data.dataset import Sample, load_sample
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import load_split
from sagegan.infer.domain import DomainGuard
from sagegan.models.builtin import model_location
from sagegan.models.checkpoint import read_training_info, resolve_checkpoint
from sagegan.models.run_folder import CheckpointFolder
from sagegan.train.domain_fingerprint import fingerprint_run

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("emps", "pdc_sem", "tio2_sem")
RNG = np.random.default_rng(0)
CORRUPTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "uniform noise": lambda image: RNG.uniform(-1, 1, image.shape).astype(np.float32),
    "shuffled pixels": lambda image: RNG.permutation(image.ravel()).reshape(image.shape),
    "flat field": lambda image: np.full_like(image, 0.2),
    "inverted contrast": lambda image: -image,
    "blurred (4 px)": lambda image: ndimage.gaussian_filter(image, 4.0),
}


def samples(data: Path, stems: list[str], databar: str | int) -> list[Sample]:
    pairs = {pair.stem: pair for pair in find_pairs(data)}
    return [load_sample(pairs[stem], databar) for stem in stems if stem in pairs]


def guard_for(model: str, data_root: Path, dataset: str) -> tuple[DomainGuard, str | int]:
    """The model's guard, its fingerprint made first from the dataset's training and validation
    images when the checkpoint has none."""
    folder = resolve_checkpoint(model_location(model), "best")
    weights = CheckpointFolder(folder).weights()
    databar = read_training_info(weights)["config"]["data"].get("databar", "auto")
    guard = DomainGuard.for_weights(weights)
    if guard is None:
        split = load_split(REPO / "benchmarks" / "splits" / f"{dataset}.json")
        data = data_root / dataset
        fingerprint_run(
            model, samples(data, split.train, databar), samples(data, split.val, databar)
        )
        guard = DomainGuard.for_weights(weights)
    return guard, databar


def row(name: str, guard: DomainGuard, checked: list[tuple[np.ndarray, float | None]]) -> dict:
    results = [guard.check(image, pixel_size) for image, pixel_size in checked]
    return {
        "group": name,
        "images": len(results),
        "flagged": sum(result.outside for result in results),
        "median_score": float(np.median([result.score for result in results])),
        "reasons": [result.reasons for result in results],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="run folder or builtin")
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="its training data")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--images", type=int, default=10, help="test images per group")
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    guard, databar = guard_for(args.model, args.data_root, args.dataset)
    test = {
        name: samples(
            args.data_root / name,
            load_split(REPO / "benchmarks" / "splits" / f"{name}.json").test[: args.images],
            databar,
        )
        for name in DATASETS
    }
    size = lambda s: None if s.pixel_size is None else s.pixel_size.nm  # noqa: E731
    own = test[args.dataset]
    rows = [row(f"{name} test", guard, [(s.image, size(s)) for s in test[name]]) for name in test]
    rows += [
        row(name, guard, [(f(s.image), size(s)) for s in own]) for name, f in CORRUPTIONS.items()
    ]
    if any(s.pixel_size is not None for s in own):
        scaled = [(s.image, 4 * s.pixel_size.nm) for s in own if s.pixel_size is not None]
        rows.append(row("pixel size x4", guard, scaled))
    print(
        f"model {args.model} (trained on {args.dataset}); limit {guard.fingerprint.threshold:.2f}"
    )
    print("| images | n | flagged | median feature score |\n|---|---|---|---|")
    for entry in rows:
        print(
            f"| {entry['group']} | {entry['images']} | {entry['flagged']} | "
            f"{entry['median_score']:.2f} |"
        )
    if args.results is not None:
        record = {"command": vars(args) | {"data_root": str(args.data_root)}, "rows": rows}
        args.results.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
