"""``generate_pairs``: synthetic image/mask pairs from a trained SAGE-GAN generator.

Output folder layout::

    OUT/images/<name>_sK.png   generated image (uint8, from the generator's [-1, 1] output)
    OUT/masks/<name>_sK.png    the mask it was generated from (0/255)
    OUT/labels/<name>_sK.tif   instance labels of that mask (uint16)
    OUT/meta.json              model, checkpoint, seed, sources, count, one entry per pair
    OUT/grid.png               a few masks (rows) and their styles (columns)
    OUT/realism.json           realism statistics and KID against ``real_dir`` (only with it)

Style K of every mask uses the same latent z_K (so a grid column shows one style); the per-pixel
noise is fresh for every image. Everything is drawn from generators seeded by ``seed``.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sagegan import __version__
from sagegan.data.io import read_image, write_image, write_labels, write_mask
from sagegan.data.normalize import normalize_image, to_uint8
from sagegan.data.pairing import find_images
from sagegan.errors import ConfigError, DataError
from sagegan.generate.sources import (
    SourceMask,
    read_mask_folder,
    rearranged_masks,
    simulator_config_for,
    simulator_masks,
    training_masks,
)
from sagegan.infer.device import resolve_device
from sagegan.metrics.kid import KID_PATCHES, RealismFeatures, realism_scores
from sagegan.metrics.realism import ImageStatistics, compare_statistics
from sagegan.models.checkpoint import load_model, resolve_checkpoint
from sagegan.models.run_folder import CONFIG_FILE, CheckpointFolder, RunFolder
from sagegan.train.config import load_yaml
from sagegan.train.run_log import save_grid

GENERATOR_NET = "generator"
GENERATOR_EMA_NET = "generator_ema"
GRID_ROWS = 4
GRID_STYLES = 6
NOISE_SEED_KEY = 3
KID_IMAGES = KID_PATCHES  # images of each set that KID's patches are drawn from, evenly spaced


@dataclass
class GenerateResult:
    """What ``generate_pairs`` wrote: the folder, the (image, mask) paths, the checkpoint used."""

    out: Path
    pairs: list[tuple[Path, Path]]
    checkpoint: Path
    realism: dict[str, float] | None

    @property
    def count(self) -> int:
        return len(self.pairs)


def load_generator(
    model: str | Path, which: str = "best", device: str | torch.device = "auto"
) -> tuple[nn.Module, Path]:
    """The generator of a run folder (its ``which`` checkpoint), checkpoint folder or weights file.

    A run's overall best checkpoint may come from pretraining, which has no generator: then the
    best GAN-stage checkpoint is used. A run without any GAN-stage checkpoint is a ConfigError.
    """
    location = resolve_checkpoint(model, which)
    if location.is_dir() and not _generator_file(location).is_file() and which == "best":
        with contextlib.suppress(DataError):  # no GAN stage: reported just below
            location = resolve_checkpoint(model, "best-gan")
    file = _generator_file(location)
    if not file.is_file():
        raise ConfigError(
            f"{location}: checkpoint has no generator (pretraining only?); "
            "train the GAN stage first (sagegan train --stage gan)"
        )
    generator, info = load_model(file, map_location=resolve_device(device))
    if not hasattr(generator, "sample_z"):
        raise ConfigError(f"{file}: holds a {info['model']}, not a mask-to-image generator")
    return generator, file


def _generator_file(location: Path) -> Path:
    """The generator weights of a checkpoint folder (its moving average of G when the run kept
    one, ``gan.generator_ema``), or ``location`` itself (a weights file)."""
    if location.is_file():
        return location
    folder = CheckpointFolder(location)
    average = folder.weights(GENERATOR_EMA_NET)
    return average if average.is_file() else folder.weights(GENERATOR_NET)


def generate_pairs(
    model: str | Path,
    out: str | Path,
    masks_dir: str | Path | None = None,
    n_synth: int = 0,
    rearranged: int = 0,
    styles_per_mask: int = 3,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    which: str = "best",
    device: str = "auto",
    progress: bool = True,
    real_dir: str | Path | None = None,
    train_split: str | Path | None = None,
) -> GenerateResult:
    """Render masks with a trained generator into image/mask pairs in ``out`` (layout above).

    Masks: every mask image of ``masks_dir`` (at its own size), ``rearranged`` masks of its real
    particles re-arranged, and ``n_synth`` simulator layouts (matched to ``masks_dir``'s particle
    size and coverage when given); new masks are ``size`` (H, W), default the run's training patch
    size. Each mask gets ``styles_per_mask`` styles. ``real_dir``: real images (a folder) to
    compute realism against, written to ``realism.json``: the statistics of
    `sagegan.metrics.realism` over all images and KID (`sagegan.metrics.kid`) on patches.
    ``train_split``: a split file (e.g. the run's ``split.json``); only the masks of its training
    images are rendered and re-arranged, so the pairs can train a segmenter on that split
    (``data.bank``) without showing it a held-out mask.
    ``device``: auto (cuda when available), cpu, cuda or cuda:N.
    """
    out = Path(out)
    _check_options(out, masks_dir, n_synth, rearranged, styles_per_mask)
    if train_split is not None and masks_dir is None:
        raise ConfigError("a training split selects mask files: give masks_dir too")
    run_on = resolve_device(device)
    generator, checkpoint = load_generator(model, which, run_on)
    real = [] if masks_dir is None else read_mask_folder(masks_dir)
    if train_split is not None:
        real = training_masks(real, train_split)
    masks = list(real)
    if rearranged or n_synth:
        new_size = _new_mask_size(model, checkpoint, size)
        if rearranged:
            masks += rearranged_masks(real, rearranged, new_size, seed)
        if n_synth:
            masks += simulator_masks(n_synth, simulator_config_for(real, new_size), seed)
    _check_unique_names(masks, masks_dir)
    torch_seed = int(np.random.SeedSequence([seed, NOISE_SEED_KEY]).generate_state(1)[0])
    rng = torch.Generator(device=run_on).manual_seed(torch_seed)
    z = generator.sample_z(styles_per_mask, device=run_on, generator=rng)
    generated = _Generated(len(masks) * styles_per_mask)
    pairs: list[tuple[Path, Path]] = []
    entries: list[dict[str, Any]] = []
    grid: dict[str, list[np.ndarray]] = {"mask": []}
    for mask in tqdm(masks, desc="generating", unit="mask", disable=not progress):
        images = _render(generator, mask.labels > 0, z, rng, run_on)
        for style, image in enumerate(images):
            name = f"{mask.name}_s{style}"
            pair = (out / "images" / f"{name}.png", out / "masks" / f"{name}.png")
            write_image(pair[0], to_uint8(image))
            write_mask(pair[1], mask.labels)
            write_labels(out / "labels" / f"{name}.tif", mask.labels)
            generated.add(image)
            pairs.append(pair)
            entries.append({"name": name, "source": mask.source, "mask": mask.name, "style": style})
        if len(grid["mask"]) < GRID_ROWS:
            _add_grid_row(grid, mask, images)
    save_grid(out / "grid.png", grid)
    realism = None if real_dir is None else _realism(generated, real_dir, out, run_on, seed)
    meta = {
        "sagegan_version": __version__,
        "model": str(model),
        "checkpoint": str(checkpoint),
        "seed": seed,
        "styles_per_mask": styles_per_mask,
        "train_split": None if train_split is None else str(train_split),
        "sources": _source_counts(masks, masks_dir),
        "count": len(pairs),
        "pairs": entries,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return GenerateResult(out=out, pairs=pairs, checkpoint=checkpoint, realism=realism)


def _check_options(
    out: Path, masks_dir: str | Path | None, n_synth: int, rearranged: int, styles: int
) -> None:
    if styles < 1:
        raise ConfigError(f"styles_per_mask must be at least 1, got {styles}")
    if n_synth < 0 or rearranged < 0:
        raise ConfigError(f"n_synth and rearranged must be >= 0, got {n_synth}, {rearranged}")
    if rearranged and masks_dir is None:
        raise ConfigError("re-arranged masks need real masks: give masks_dir")
    if masks_dir is None and n_synth == 0:
        raise ConfigError("nothing to generate: give masks_dir and/or n_synth > 0")
    if out.exists() and any(out.iterdir()):
        raise DataError(out, "output folder is not empty; choose a new or empty folder")


def _check_unique_names(masks: list[SourceMask], masks_dir: str | Path | None) -> None:
    """Generated masks are named ``rearranged_NNNN`` / ``simulator_NNNN``; a mask file with such a
    name would have its pairs overwritten."""
    counts = Counter(mask.name for mask in masks)
    clash = sorted(name for name, count in counts.items() if count > 1)
    if clash:
        raise DataError(masks_dir, f"mask file {clash[0]!r} has the name of a generated mask")


def _new_mask_size(
    model: str | Path, checkpoint: Path, size: tuple[int, int] | None
) -> tuple[int, int]:
    """``size``, else the training patch size from the config of the run that holds the
    ``checkpoint`` (`RunFolder.holding`)."""
    if size is not None:
        if len(size) != 2 or min(size) < 32:
            raise ConfigError(f"size must be (height, width) of at least 32 px, got {size}")
        return int(size[0]), int(size[1])
    run = RunFolder.holding(checkpoint)
    if run is None or not run.config_path().is_file():
        raise ConfigError(f"{model}: no run {CONFIG_FILE} to take the mask size from; give size")
    height, width = load_yaml(run.config_path())["data"]["patch_size"]
    return int(height), int(width)


@torch.no_grad()
def _render(
    generator: nn.Module,
    mask: np.ndarray,
    z: torch.Tensor,
    rng: torch.Generator,
    device: torch.device,
) -> list[np.ndarray]:
    """One [-1, 1] image per latent in ``z`` for ``mask``, each with fresh per-pixel noise."""
    styles = z.shape[0]
    batch = torch.from_numpy(mask.astype(np.float32))[None, None].to(device)
    batch = batch.expand(styles, -1, -1, -1)
    noise = generator.make_noise(styles, tuple(mask.shape), device=device, generator=rng)
    images = generator(batch, z=z, noise=noise)
    return [image[0].float().cpu().numpy() for image in images]


def _add_grid_row(
    grid: dict[str, list[np.ndarray]], mask: SourceMask, images: list[np.ndarray]
) -> None:
    if grid["mask"] and mask.labels.shape != grid["mask"][0].shape:
        return  # one grid holds one size
    grid["mask"].append((mask.labels > 0).astype(np.float32))
    for style, image in enumerate(images[:GRID_STYLES]):
        grid.setdefault(f"style {style}", []).append(image)


def _source_counts(masks: list[SourceMask], masks_dir: str | Path | None) -> dict[str, Any]:
    counts: dict[str, Any] = {"masks_dir": None if masks_dir is None else str(masks_dir)}
    for source in ("file", "rearranged", "simulator"):
        counts[source] = sum(mask.source == source for mask in masks)
    return counts


def evenly_spaced(total: int, count: int) -> set[int]:
    """Up to ``count`` indices spread evenly over ``range(total)``."""
    return set(np.linspace(0, total - 1, min(total, count)).round().astype(int).tolist())


@dataclass
class _Generated:
    """Realism statistics of every generated image, and `KID_IMAGES` of them kept for KID."""

    total: int
    stats: ImageStatistics = field(default_factory=ImageStatistics)
    kept: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.picks = evenly_spaced(self.total, KID_IMAGES)

    def add(self, image: np.ndarray) -> None:
        if self.stats.images in self.picks:
            self.kept.append(image)
        self.stats.add(image)


def _realism(
    generated: _Generated, real_dir: str | Path, out: Path, device: torch.device, seed: int
) -> dict[str, float]:
    paths = find_images([real_dir])
    picks = evenly_spaced(len(paths), KID_IMAGES)
    real, kept = ImageStatistics(), []
    for index, path in enumerate(paths):
        image = normalize_image(read_image(path))
        real.add(image)
        if index in picks:
            kept.append(image)
    kid = realism_scores(kept, generated.kept, RealismFeatures(device), seed=seed)
    statistics = {
        **compare_statistics(generated.stats, real),
        "kid": kid["kid"],
        "kid_std": kid["kid_std"],
        "real_dir": str(real_dir),
    }
    (out / "realism.json").write_text(json.dumps(statistics, indent=2) + "\n")
    return statistics
