"""Two test-time options for a trained run, scored on its validation (or test) images: images
upsampled so that their typical particle reaches a target radius, and predictions averaged with
those of the negated image (the auto recipe trains with intensity inversion where contrasts mix).

Each image is predicted at its native resolution first; the instance split is the run's own
(chosen on validation). For each ``--radius-targets`` R, an image whose typical particle (the
split's area-weighted median inscribed radius) is under R is upsampled by R / radius (at most
``--max-scale``), predicted, and its probability and instance-head maps are taken back to the native
grid before the split; an image already at R or above is left as it is::

    python benchmarks/test_time_options.py RUN ../shared/data/emps --radius-targets 15 20 30 \\
        --inversion --results benchmarks/results/test_time_options_emps_s0_val.json

Prints mean pixel Dice (of the instances' mask, as `sagegan evaluate` scores it) and F1@0.5 per
option; ``--split test`` scores the test split, to read after a choice made on validation.
``builtin`` with ``--split-file`` scores the shipped model on any dataset's split (zero-shot).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from instance_options import run_images
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.infer.instances import run_split_options, split_instances, typical_radius
from sagegan.infer.tiling import predict_tiled
from sagegan.metrics.objects import match_instances
from sagegan.metrics.pixel import pixel_scores

Maps = tuple[np.ndarray, dict[str, np.ndarray | None]]  # probability, instance-head maps


def predict_scaled(model: Any, image: np.ndarray, scale: float) -> Maps:
    """Probability and instance-head maps (boundary, centre) of ``image`` predicted at ``scale``
    times its size, on its native grid (bilinear both ways)."""
    if scale == 1.0:
        prediction = predict_tiled(model, image)
        return prediction.probability, prediction.instance_maps
    shape = tuple(max(32, round(side * scale)) for side in image.shape)
    larger = resize(image, shape, order=1, preserve_range=True).astype(np.float32)
    prediction = predict_tiled(model, larger)

    def native(values: np.ndarray | None) -> np.ndarray | None:
        if values is None:
            return None
        return resize(values, image.shape, order=1, preserve_range=True).astype(np.float32)

    heads = {name: native(values) for name, values in prediction.instance_maps.items()}
    return native(prediction.probability), heads


def inscribed_radius(labels: np.ndarray) -> float:
    """The typical particle's inscribed radius (px) of an instance label image."""
    if not labels.any():
        return 0.0
    index = np.arange(1, int(labels.max()) + 1)
    distance = ndimage.distance_transform_edt(labels > 0)
    return typical_radius(labels, np.asarray(ndimage.maximum(distance, labels, index)))


def score(truth: np.ndarray, maps: Maps, split: dict[str, float]) -> dict[str, float]:
    """Pixel Dice of the instances' mask and F1@0.5, as `sagegan evaluate` scores them."""
    probability, heads = maps
    labels = split_instances(probability, **heads, **split)
    return {
        "dice": pixel_scores(labels > 0, truth > 0)["dice"],
        "f1@0.5": match_instances(truth, labels, thresh=0.5).f1,
    }


def score_image(
    model: Any, sample: Any, split: dict[str, float], targets: list[float], args: Any
) -> dict[str, Any]:
    """One image's scores at native resolution and with each test-time option."""
    truth = np.asarray(sample.labels)
    native = predict_scaled(model, sample.image, 1.0)
    radius = inscribed_radius(split_instances(native[0], **native[1], **split))
    row: dict[str, Any] = {"radius_px": radius, "native": score(truth, native, split)}
    for target in targets:
        scale = float(np.clip(target / max(radius, 1.0), 1.0, args.max_scale))
        maps = native if scale == 1.0 else predict_scaled(model, sample.image, scale)
        row[f"radius {target:g}"] = {**score(truth, maps, split), "scale": scale}
    if args.inversion:
        negated = predict_scaled(model, -sample.image, 1.0)
        heads = {
            name: None if values is None else (values + negated[1][name]) / 2
            for name, values in native[1].items()
        }
        row["inversion"] = score(truth, ((native[0] + negated[0]) / 2, heads), split)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run folder, or builtin")
    parser.add_argument("data", type=Path, help="the dataset folder to score")
    parser.add_argument("--split-file", type=Path, help="its split (default: the run's own)")
    parser.add_argument("--radius-targets", type=float, nargs="*", default=[])
    parser.add_argument("--max-scale", type=float, default=3.0)
    parser.add_argument("--inversion", action="store_true")
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--results", type=Path, help="write the per-image rows as JSON here")
    args = parser.parse_args()
    model, training, stems = run_images(args.run, args.checkpoint, args.split, args.split_file)
    split = run_split_options(training)
    pairs = {pair.stem: pair for pair in find_pairs(args.data)}
    rows = {
        stem: score_image(model, load_sample(pairs[stem]), split, args.radius_targets, args)
        for stem in stems
    }
    options = [key for key in next(iter(rows.values())) if key != "radius_px"]
    print(f"{len(rows)} {args.split} images, split {split}")
    print("| option | Dice | F1@0.5 | images upsampled |")
    print("|---|---|---|---|")
    for option in options:
        scores = [row[option] for row in rows.values()]
        upsampled = sum(s.get("scale", 1.0) > 1.0 for s in scores)
        dice, f1 = (np.mean([s[key] for s in scores]) for key in ("dice", "f1@0.5"))
        print(f"| {option} | {dice:.3f} | {f1:.3f} | {upsampled} |")
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        document = {"run": str(args.run), "split": args.split, "instances": split, "images": rows}
        args.results.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
