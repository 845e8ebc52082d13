"""Cost of choosing a model's instance split (`sagegan.train.split_tuning.tune_split_of`).

After training, every best checkpoint (and the last one, when it is not the best) scores every
candidate split on every validation image; the network runs once per image and the splits take
the rest. Here the "network" is a fixed map per image: the simulator's labels with touching
particles, blurred (Gaussian sigma 1.5 px) into a foreground probability, so the benchmark needs no
data and no training and times only the splits. The table gives the seconds per image and the
number of candidate splits scored. With ``--run RUN --data DATA`` it times the tuning of a trained
run's best checkpoint on its validation images instead (the network's predictions included) and
writes the rows scored, to compare two versions of the code.

    python benchmarks/split_tuning_speed.py --results benchmarks/results/split_tuning_speed.json
    python benchmarks/split_tuning_speed.py --run RUN --data DATA --results FILE
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy import ndimage

from sagegan.infer.tiling import Prediction
from sagegan.synth import SimulatorConfig, simulate
from sagegan.train.split_tuning import candidate_splits, tune_split_of

PLANNED = {
    "min_size_px": 20,
    "min_distance_px": 3,
    "min_depth_px": 1.0,
    "min_size_fraction": 0.0,
    "min_depth_fraction": 0.0,
}


def simulated_samples(count: int, side: int, seed: int) -> list[SimpleNamespace]:
    """``count`` simulated samples of ``side`` x ``side`` px, each with ``labels`` and, as its
    ``image``, the probability map the fixed predictor returns."""
    config = SimulatorConfig(size=(side, side))
    samples = []
    for index in range(count):
        labels = simulate(seed + index, config).labels.astype(np.int32)
        probability = ndimage.gaussian_filter((labels > 0).astype(np.float32), 1.5)
        samples.append(SimpleNamespace(image=probability, labels=labels))
    return samples


def measure(count: int, side: int, seed: int) -> dict[str, Any]:
    """Wall time of one `tune_split_of` over ``count`` simulated images."""
    samples = simulated_samples(count, side, seed)
    start = time.perf_counter()
    tuning = tune_split_of(
        lambda image: Prediction(probability=image, attention=None), samples, PLANNED
    )
    seconds = time.perf_counter() - start
    return {
        "images": count,
        "side_px": side,
        "candidates": len(candidate_splits(PLANNED)),
        "objects_per_image": float(np.mean([s.labels.max() for s in samples])),
        "seconds": seconds,
        "seconds_per_image": seconds / count,
        "chosen": tuning.chosen,
    }


def measure_run(run: Path, data: Path) -> dict[str, Any]:
    """Wall time of tuning the split of ``run``'s best checkpoint on its validation images."""
    from sagegan.data.pairing import find_pairs
    from sagegan.data.splits import load_split
    from sagegan.models.checkpoint import load_model, read_training_info
    from sagegan.models.run_folder import CheckpointFolder, RunFolder
    from sagegan.train.config import InstanceConfig, RuntimeConfig
    from sagegan.train.ensemble import _validation_samples
    from sagegan.train.runtime import resolve_amp, setup_runtime
    from sagegan.train.split_tuning import tune_split

    folder = RunFolder(run).checkpoint("best")
    info = read_training_info(CheckpointFolder(folder).weights())
    known = InstanceConfig.__dataclass_fields__
    settings = {k: v for k, v in info["config"]["instances"].items() if k in known}
    samples = _validation_samples(data, find_pairs(data), load_split(info["split"]), info)
    runtime = setup_runtime(RuntimeConfig())
    runtime.amp_dtype = resolve_amp(info["config"]["runtime"]["amp"], runtime.device)
    model, _ = load_model(folder, map_location=runtime.device)
    start = time.perf_counter()
    tuning = tune_split(model, samples, runtime, InstanceConfig(**settings))
    seconds = time.perf_counter() - start
    return {"run": str(run), "images": len(samples), "seconds": seconds, "rows": tuning.rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="simulated images per size")
    parser.add_argument("--sides", default="512,1024", help="image sides (px)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run", type=Path, help="time a trained run's tuning instead")
    parser.add_argument("--data", type=Path, help="the run's dataset folder (with --run)")
    parser.add_argument("--results", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    if args.run is not None:
        result = measure_run(args.run, args.data)
        print(f"{result['run']}: {result['images']} validation images, {result['seconds']:.1f} s")
        if args.results:
            args.results.write_text(json.dumps(result, indent=2) + "\n")
        return
    rows = [measure(args.images, int(side), args.seed) for side in args.sides.split(",")]
    print("| image side | images | candidates | objects per image | s per image |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['side_px']} | {row['images']} | {row['candidates']} | "
            f"{row['objects_per_image']:.0f} | {row['seconds_per_image']:.2f} |"
        )
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
