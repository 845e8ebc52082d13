"""How fast does a segmenter start to learn EMPS? Short trainings of network and loss variants.

Each variant trains from the same seed for ``--iterations`` steps (batch 2, 256 x 256 patches of
the first 60 images of the committed EMPS training split, cpu-small's augmentation, Adam) and
reports the mean BCE of its first and last 50 training batches (a loss-independent yardstick:
0.69 is a coin flip) and pixel Dice on the first 12 validation images, whole, in eval mode.
One seed, short runs: it ranks variants for a first look, it does not replace full runs.

    OMP_NUM_THREADS=2 python benchmarks/learning_speed.py --results \\
        benchmarks/results/learning_speed.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sagegan.data.augment import AugmentConfig
from sagegan.data.dataset import Sample, SegmentationDataset, load_sample
from sagegan.data.pairing import find_pairs
from sagegan.losses import build_segmentation_loss
from sagegan.models import build_model

SPLIT = Path(__file__).parent / "splits" / "emps.json"
VARIANTS: dict[str, dict[str, Any]] = {
    "attention_unet (cpu-small)": {},
    "instance norm": {"norm": "instance"},
    "BCE + Dice loss": {"loss": "ce_dice"},
    "U-Net": {"model": "unet"},
    "depth 5": {"depth": 5},
    "depth 5, instance norm": {"depth": 5, "norm": "instance"},
}


def dice(prediction: np.ndarray, truth: np.ndarray) -> float:
    return float(2 * (prediction & truth).sum() / (prediction.sum() + truth.sum() + 1e-9))


def run_variant(
    variant: dict[str, Any], train: list[Sample], val: list[Sample], iterations: int
) -> dict[str, float]:
    """Train one variant; its first/last BCE and validation Dice."""
    torch.manual_seed(0)
    model = build_model(
        variant.get("model", "attention_unet"),
        base_width=16,
        depth=variant.get("depth", 4),
        norm=variant.get("norm", "batch"),
    )
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    criterion = build_segmentation_loss(variant.get("loss", "bce_focal_tversky"))
    dataset = SegmentationDataset(
        train, (256, 256), AugmentConfig(), iterations * 2, foreground_bias=0.5
    )
    start, bce = time.perf_counter(), []
    for step in range(iterations):
        items = [dataset[2 * step], dataset[2 * step + 1]]
        image, mask, valid = (
            torch.stack([i[k] for i in items]) for k in ("image", "mask", "valid")
        )
        optimizer.zero_grad()
        logits = model(image).logits.float()
        criterion(logits, mask, valid).backward()
        optimizer.step()
        bce.append(F.binary_cross_entropy_with_logits(logits.detach(), mask).item())
    model.eval()
    scores = []
    with torch.no_grad():
        for sample in val:
            logits = model(torch.from_numpy(sample.image)[None, None]).logits[0, 0]
            scores.append(dice(logits.numpy() > 0, sample.labels > 0))
    return {
        "bce_first50": float(np.mean(bce[:50])),
        "bce_last50": float(np.mean(bce[-50:])),
        "val_dice": float(np.mean(scores)),
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "emps"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"skipping: {args.data} not found")
    split = json.loads(SPLIT.read_text())
    pairs = {pair.stem: pair for pair in find_pairs(args.data)}
    train = [load_sample(pairs[stem]) for stem in split["train"][:60]]
    val = [load_sample(pairs[stem]) for stem in split["val"][:12]]
    rows = []
    print("| variant | BCE first 50 | BCE last 50 | val Dice | s |")
    print("|---|---|---|---|---|")
    for name in args.variants:
        row = {"variant": name, **run_variant(VARIANTS[name], train, val, args.iterations)}
        rows.append(row)
        print(
            f"| {name} | {row['bce_first50']:.3f} | {row['bce_last50']:.3f} | "
            f"{row['val_dice']:.3f} | {row['seconds']:.0f} |",
            flush=True,
        )
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        document = {"iterations": args.iterations, "rows": rows}
        args.results.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
