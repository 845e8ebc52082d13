"""Cost of the instance split (`split_instances`) as the number of objects grows.

Two kinds of probability map, each at growing sizes:

* ``specks``: N small blobs (3-7 px across) scattered over a square image, the map of a network that
  marks many specks;
* ``noise``: smoothed Gaussian noise with 65 % of its pixels above the threshold, about what an
  untrained network predicts: one image-wide component that the watershed cuts into thousands of
  pieces, many of them small enough to be merged.

For each map the table gives the number of objects, the wall time and the time per 1,000 objects: a
split whose cost is linear in the objects keeps that last column flat as N grows.

    python benchmarks/instance_split.py --results benchmarks/results/instance_split.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from sagegan.infer.instances import split_instances


def speck_map(count: int, seed: int = 0) -> np.ndarray:
    """A probability map with ``count`` blobs at an average density of one per 24 x 24 px."""
    side = int(np.sqrt(count) * 24)
    rng = np.random.default_rng(seed)
    probability = np.zeros((side, side), np.float32)
    rows, cols = rng.integers(4, side - 4, (2, count))
    radii = rng.uniform(2.0, 3.5, count)
    yy, xx = np.mgrid[-4:5, -4:5]
    for row, col, radius in zip(rows, cols, radii, strict=True):
        disc = (yy**2 + xx**2) <= radius**2
        window = probability[row - 4 : row + 5, col - 4 : col + 5]
        np.maximum(window, disc * 0.9, out=window)
    return probability


def noise_map(side: int, seed: int = 0) -> np.ndarray:
    """Smoothed noise, 0.9 on its top 65 % of pixels and 0 elsewhere: an image-wide component."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(side, side)), 1.0)
    return (field > np.quantile(field, 0.35)).astype(np.float32) * 0.9


def measure(kind: str, probability: np.ndarray, repeats: int) -> dict[str, Any]:
    """Best-of-``repeats`` wall time of one split and the objects it found."""
    times, count = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = int(split_instances(probability).max())
        times.append(time.perf_counter() - start)
    seconds = min(times)
    return {
        "map": kind,
        "shape": list(probability.shape),
        "objects": count,
        "seconds": seconds,
        "ms_per_1000_objects": 1000 * seconds / max(count, 1) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specks", default="1250,2500,5000,10000", help="speck counts")
    parser.add_argument("--noise-sides", default="512,1024,2048", help="noise map sides (px)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, help="write the rows as JSON here")
    args = parser.parse_args()
    rows = [measure("specks", speck_map(int(n)), args.repeats) for n in args.specks.split(",")]
    rows += [measure("noise", noise_map(int(s)), args.repeats) for s in args.noise_sides.split(",")]
    print("| map | shape | objects | seconds | ms per 1,000 objects |")
    print("|---|---|---|---|---|")
    for row in rows:
        shape = "x".join(str(v) for v in row["shape"])
        print(
            f"| {row['map']} | {shape} | {row['objects']} | {row['seconds']:.2f} "
            f"| {row['ms_per_1000_objects']:.0f} |"
        )
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
