"""How faithful a SAGE-GAN generator's pairs are: a segmenter scored on images the generator drew
from the validation masks, beside the same segmenter on the real validation images.

Online augmentation trains the segmenter on pairs (G(m), m): it is told that G(m) shows m. If a
segmenter that reads real images well finds something else in G(m) (particles drawn larger or
smaller than m, particles left out, background drawn as particles), every such pair teaches that
difference. For each validation image, at the run's working resolution, the patch-sized tiles of
its mask (with the planned gaps, as the GAN stage gives them to G) are drawn in ``--styles``
styles; the segmenter (``--segmenter``, by default ``best-pretrain``: stage 1's weights, which no
generated pair has trained) predicts each drawing and the real tile. Prints, as means over the
tiles, pixel Dice, precision and recall against the mask and, pooled over them, the
predicted-to-true foreground ratio, for the real tiles and for the drawings::

    python benchmarks/generated_fidelity.py RUN DATA --generator last --styles 3 \\
        --results benchmarks/results/fidelity_NAME.json

The validation split is the run's; no test image is read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from instance_options import run_images
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.data.resample import resample_sample
from sagegan.data.separation import training_targets
from sagegan.generate.pairs import GENERATOR_NET
from sagegan.infer.tiling import predict_tiled
from sagegan.metrics.pixel import pixel_scores
from sagegan.models.checkpoint import (
    load_model,
    resolve_checkpoint,
    training_databar,
    training_scale,
)
from sagegan.models.run_folder import CheckpointFolder
from sagegan.train.gan_random import generator_inputs

MAX_TILES_PER_IMAGE = 4
SCORES = ("dice", "precision", "recall")


def tiles(height: int, width: int, patch: tuple[int, int]) -> list[tuple[slice, slice]]:
    """Up to ``MAX_TILES_PER_IMAGE`` whole patch-sized windows, evenly spaced in row-major order
    over a grid from the top left (one window at the origin when the image is smaller than a
    patch: it is padded)."""
    rows = range(0, max(height - patch[0], 0) + 1, patch[0])
    cols = range(0, max(width - patch[1], 0) + 1, patch[1])
    windows = [(slice(r, r + patch[0]), slice(c, c + patch[1])) for r in rows for c in cols]
    count = min(len(windows), MAX_TILES_PER_IMAGE)
    chosen = np.linspace(0, len(windows) - 1, count).round().astype(int)
    return [windows[index] for index in chosen]


def padded(array: np.ndarray, patch: tuple[int, int], mode: str) -> np.ndarray:
    """``array`` padded at the bottom and right up to ``patch`` (``np.pad`` mode ``mode``)."""
    extra = [(0, max(0, want - have)) for want, have in zip(patch, array.shape, strict=True)]
    return np.pad(array, extra, mode=mode)


def online_generator(run: Path, which: str) -> tuple[Any, Path]:
    """G itself from a run's checkpoint ``which`` (not its moving average, which `sagegan
    generate` prefers: online augmentation draws from G)."""
    file = CheckpointFolder(resolve_checkpoint(run, which)).weights(GENERATOR_NET)
    if not file.is_file():
        raise SystemExit(f"{run}: checkpoint {which} has no generator")
    generator, _ = load_model(file)
    return generator.eval(), file


def tile_scores(
    segmenter: Any, image: np.ndarray, mask: np.ndarray, region: tuple[int, int]
) -> dict[str, float]:
    """The segmenter's pixel scores on ``image`` against ``mask`` in the top-left ``region``
    (the tile without its padding), and both foreground areas there."""
    predicted = predict_tiled(segmenter, image).probability[: region[0], : region[1]] > 0.5
    mask = mask[: region[0], : region[1]]
    scores = pixel_scores(predicted, mask)
    return {
        "dice": scores["dice"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "predicted_px": float(predicted.sum()),
        "true_px": float(mask.sum()),
    }


def image_rows(
    segmenter: Any, generator: Any, sample: Any, config: dict[str, Any], args: Any
) -> list[dict[str, Any]]:
    """One row per tile of ``sample`` (already at the working resolution): the real tile's
    scores and the mean over the drawings' scores."""
    data = config["data"]
    patch = (int(data["patch_size"][0]), int(data["patch_size"][1]))
    gaps = training_targets(sample.labels, gap_px=int(data.get("gap_px", 0)))["mask"] > 0
    source = torch.Generator().manual_seed(args.seed)
    rows = []
    for window in tiles(*sample.image.shape, patch):
        region = gaps[window].shape
        mask = padded(gaps[window], patch, "constant")
        if not mask.any():
            continue
        real = padded(sample.image[window], patch, "edge")
        masks = torch.from_numpy(mask.astype(np.float32))[None, None].repeat(args.styles, 1, 1, 1)
        z, noise = generator_inputs(generator, masks, source)
        with torch.no_grad():
            drawings = generator(masks, z=z, noise=noise)
        drawn = [tile_scores(segmenter, d[0].float().numpy(), mask, region) for d in drawings]
        rows.append(
            {
                "stem": sample.stem,
                "real": tile_scores(segmenter, real, mask, region),
                "generated": {key: float(np.mean([d[key] for d in drawn])) for key in drawn[0]},
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder with a GAN stage")
    parser.add_argument("data", type=Path, help="its dataset folder")
    parser.add_argument("--generator", default="last", help="the checkpoint whose G draws")
    parser.add_argument("--segmenter", default="best-pretrain", help="the checkpoint that scores")
    parser.add_argument("--styles", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, help="write the per-tile rows as JSON here")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    segmenter, training, stems = run_images(args.run, args.segmenter, "val")
    generator, checkpoint = online_generator(args.run, args.generator)
    scale, databar = training_scale(training), training_databar(training)
    pairs = {pair.stem: pair for pair in find_pairs(args.data)}
    rows = []
    for stem in stems:
        sample = resample_sample(load_sample(pairs[stem], databar), scale)
        rows += image_rows(segmenter, generator, sample, training["config"], args)
    if not rows:
        raise SystemExit(f"{args.run}: no validation tile holds a particle")
    print(f"{len(rows)} validation tiles of {len(stems)} images; G from {checkpoint}")
    print("| images | Dice | precision | recall | predicted / true foreground |")
    print("|---|---|---|---|---|")
    for kind in ("real", "generated"):
        means = [np.mean([row[kind][key] for row in rows]) for key in SCORES]
        pooled = sum(row[kind]["predicted_px"] for row in rows) / sum(
            row[kind]["true_px"] for row in rows
        )
        print(f"| {kind} | " + " | ".join(f"{value:.3f}" for value in [*means, pooled]) + " |")
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        document = {"run": str(args.run), "generator": str(checkpoint), "tiles": rows}
        args.results.write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
