"""Where a segmentation fails, image by image: an evaluation folder's scores beside what the truth
says about each image (particle size, contrast), with one failure label per image.

Labels, first match wins (pixels of the prediction P and of the truth T, objects n_pred, n_true):

* ``empty``: P < 0.1 T (the particles were missed);
* ``background``: P > 2 T and pixel precision < 0.5 (background painted as particles: texture,
  text, scale bars, or the wrong contrast);
* ``merged``: n_pred < 0.5 n_true (touching particles joined, or few found);
* ``split``: n_pred > 2 n_true (particles cut into pieces, or specks);
* ``shapes``: Dice >= 0.7 but F1@0.5 < 0.5 (the right pixels, the wrong objects);
* ``ok``: F1@0.5 >= 0.5; ``poor`` otherwise.

    sagegan evaluate DATA --model RUN --out SCORES
    python benchmarks/diagnose.py SCORES DATA --results diagnosis.json

Prints a per-image table and a count per label, and writes JSON. Contents of the real datasets
are summarised as numbers only.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.train.dataset_fingerprint import equivalent_diameters, particles_brighter


def failure_label(row: dict[str, float]) -> str:
    """The first failure label (module docstring) that fits one per-image row."""
    truth = row["pixel_tp"] + row["pixel_fn"]
    predicted = row["pixel_tp"] + row["pixel_fp"]
    if predicted < 0.1 * truth:
        return "empty"
    if predicted > 2 * truth and row["pixel_precision"] < 0.5:
        return "background"
    if row["n_pred"] < 0.5 * row["n_true"]:
        return "merged"
    if row["n_pred"] > 2 * row["n_true"]:
        return "split"
    if row["f1@0.50"] >= 0.5:
        return "ok"
    return "shapes" if row["dice"] >= 0.7 else "poor"


SMALL_AREA_PX = 10  # the instance split's default smallest object


def truth_description(image: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Median particle diameter (px), share of particles under ``SMALL_AREA_PX`` pixels,
    foreground share and contrast of one annotated image."""
    diameters = equivalent_diameters(labels)
    areas = np.pi / 4 * diameters**2
    return {
        "median_diameter_px": float(np.median(diameters)) if diameters.size else 0.0,
        "small_share": float(np.mean(areas < SMALL_AREA_PX)) if areas.size else 0.0,
        "foreground": float((labels > 0).mean()),
        "contrast": "bright" if particles_brighter(image, labels) else "dark",
    }


def diagnose(scores: Path, data_dir: Path) -> list[dict[str, Any]]:
    """One row per evaluated image: its scores, truth description and failure label."""
    with (scores / "per_image.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    databar = json.loads((scores / "metrics.json").read_text())["settings"]["databar"]
    pairs = {pair.stem: pair for pair in find_pairs(data_dir)}
    out = []
    for row in rows:
        values = {k: float(v) for k, v in row.items() if k != "name" and v not in ("", None)}
        sample = load_sample(pairs[row["name"]], databar)
        out.append(
            {
                "name": row["name"],
                "dice": values["dice"],
                "f1@0.5": values["f1@0.50"],
                "n_true": int(values["n_true"]),
                "n_pred": int(values["n_pred"]),
                **truth_description(sample.image, sample.labels),
                "label": failure_label(values),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path, help="an evaluation folder (per_image.csv)")
    parser.add_argument("data", type=Path, help="the dataset folder it was evaluated on")
    parser.add_argument("--results", type=Path, help="write the rows and counts as JSON here")
    args = parser.parse_args()
    rows = diagnose(args.scores, args.data)
    print(
        f"| image | Dice | F1@0.5 | true | predicted | diameter px | < {SMALL_AREA_PX} px | fg "
        "| contrast | label |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['name']} | {r['dice']:.3f} | {r['f1@0.5']:.3f} | {r['n_true']} | "
            f"{r['n_pred']} | {r['median_diameter_px']:.0f} | {r['small_share']:.2f} | "
            f"{r['foreground']:.2f} | "
            f"{r['contrast']} | {r['label']} |"
        )
    counts = Counter(r["label"] for r in rows)
    print("\n" + ", ".join(f"{label}: {n}" for label, n in counts.most_common()))
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        document = {"scores": str(args.scores), "rows": rows, "counts": dict(counts)}
        args.results.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
