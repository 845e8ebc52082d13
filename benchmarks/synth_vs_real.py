"""Compare synthetic SEM images with a folder of real ones, by eye and by simple statistics.

Takes real ``images/`` + ``masks/`` (paired by stem), crops them to the synthetic size at native
scale, and simulates images with a style preset. Writes to ``--out`` (default under /tmp; the
figure holds real image crops, so never commit it): ``synth_vs_real.png`` (real crops above
synthetic ones, then intensity histograms, radially averaged power spectra, mean intensity
versus distance from the mask edge, and particle size distributions) and ``stats.json``.
Prints a markdown table of the statistics.

    python benchmarks/synth_vs_real.py ../shared/data/pdc_sem --pattern 'graphite_*' --style pdc
    python benchmarks/synth_vs_real.py ../shared/data/tio2_sem --style tio2 --crop-bottom 64
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from scipy import ndimage

from sagegan.synth import SimulatorConfig, simulate

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
EDGE_RANGE = np.arange(-12, 13)


def read_gray(path: Path) -> np.ndarray:
    """8-bit grayscale view of an image file (palette and RGB images are converted)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def real_pairs(folder: Path, pattern: str) -> list[tuple[Path, Path]]:
    pairs = []
    masks = {p.stem: p for p in (folder / "masks").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    for image in sorted((folder / "images").glob(pattern)):
        if image.suffix.lower() in IMAGE_SUFFIXES and image.stem in masks:
            pairs.append((image, masks[image.stem]))
    if not pairs:
        raise SystemExit(f"{folder}: no image/mask pairs match {pattern!r}")
    return pairs


def random_crops(
    pairs: list[tuple[Path, Path]],
    size: tuple[int, int],
    count: int,
    crop_bottom: int,
    rng: np.random.Generator,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` crops of ``size`` (or whole images when smaller) from the real pairs."""
    crops = []
    for k in range(count):
        image_path, mask_path = pairs[k % len(pairs)]
        image, mask = read_gray(image_path), read_gray(mask_path) > 0
        if crop_bottom:
            image, mask = image[:-crop_bottom], mask[:-crop_bottom]
        height, width = min(size[0], image.shape[0]), min(size[1], image.shape[1])
        top = int(rng.integers(0, image.shape[0] - height + 1))
        left = int(rng.integers(0, image.shape[1] - width + 1))
        crops.append(
            (
                image[top : top + height, left : left + width],
                mask[top : top + height, left : left + width],
            )
        )
    return crops


def power_spectrum(image: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum (log-spaced frequency bins, cycles per pixel)."""
    data = image.astype(np.float64) - image.mean()
    window = np.outer(np.hanning(data.shape[0]), np.hanning(data.shape[1]))
    power = np.abs(np.fft.fft2(data * window)) ** 2 / data.size
    fy = np.fft.fftfreq(data.shape[0])[:, None]
    fx = np.fft.fftfreq(data.shape[1])[None, :]
    radius = np.sqrt(fy**2 + fx**2).ravel()
    edges = np.geomspace(2.0 / min(data.shape), 0.5, bins + 1)
    which = np.digitize(radius, edges) - 1
    valid = (which >= 0) & (which < bins)
    total = np.bincount(which[valid], power.ravel()[valid], bins)
    count = np.maximum(np.bincount(which[valid], minlength=bins), 1)
    return np.sqrt(edges[1:] * edges[:-1]), total / count


def edge_profile(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean intensity at each signed distance (px) from the mask edge (positive = inside)."""
    inside = np.ceil(ndimage.distance_transform_edt(mask))
    outside = np.ceil(ndimage.distance_transform_edt(~mask)) - 1
    signed = np.where(mask, inside, -outside).astype(int)
    profile = np.full(len(EDGE_RANGE), np.nan)
    for k, distance in enumerate(EDGE_RANGE):
        selected = signed == distance
        if selected.sum() >= 20:
            profile[k] = image[selected].mean()
    return profile


def particle_diameters(regions: np.ndarray) -> np.ndarray:
    """Equivalent-circle diameters (px) of instances: labels as given, or 4-connected components
    of a boolean mask (real masks separate touching particles by a gap)."""
    labels = ndimage.label(regions)[0] if regions.dtype == bool else regions
    areas = np.bincount(labels.ravel())[1:]
    return np.sqrt(4.0 * areas[areas > 0] / np.pi)


def noise_level(image: np.ndarray, mask: np.ndarray) -> float:
    """Robust pixel-noise estimate on the background (MAD of horizontal differences)."""
    background = ~ndimage.binary_dilation(mask, iterations=3)
    diff = np.diff(image.astype(np.float64), axis=1) / np.sqrt(2.0)
    values = diff[background[:, 1:] & background[:, :-1]]
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) if values.size else 0.0


def summarise(crops: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    images = [c[0] for c in crops]
    regions = [c[1] for c in crops]
    masks = [r > 0 for r in regions]
    pixels = np.concatenate([i.ravel() for i in images])
    fg = np.concatenate([i[m] for i, m in zip(images, masks, strict=True)])
    bg = np.concatenate([i[~m] for i, m in zip(images, masks, strict=True)])
    diameters = np.concatenate([particle_diameters(r) for r in regions])
    spectra = [power_spectrum(i) for i in images]
    profiles = np.array([edge_profile(i, m) for i, m in zip(images, masks, strict=True)])
    freq = spectra[0][0]
    spectrum = np.mean([s[1] for s in spectra if len(s[1]) == len(freq)], axis=0)
    mid = (freq > 0.02) & (freq < 0.2)
    slope = float(np.polyfit(np.log(freq[mid]), np.log(spectrum[mid]), 1)[0])
    return {
        "n_crops": len(crops),
        "mean": float(pixels.mean()),
        "std": float(pixels.std()),
        "p5_p50_p95": [float(v) for v in np.percentile(pixels, [5, 50, 95])],
        "background_mean": float(bg.mean()),
        "particle_mean": float(fg.mean()) if fg.size else None,
        "foreground_fraction": float(np.mean([m.mean() for m in masks])),
        "particles_per_crop": float(len(diameters) / len(crops)),
        "diameter_px_p10_p50_p90": [float(v) for v in np.percentile(diameters, [10, 50, 90])]
        if diameters.size
        else None,
        "noise_sigma": float(
            np.mean([noise_level(i, m) for i, m in zip(images, masks, strict=True)])
        ),
        "spectrum_slope_0.02_0.2": slope,
        "histogram": np.histogram(pixels, bins=64, range=(0, 256), density=True)[0].tolist(),
        "spectrum_freq": freq.tolist(),
        "spectrum": spectrum.tolist(),
        "edge_profile": np.nanmean(profiles, axis=0).tolist(),
        "diameters_px": diameters.tolist(),
    }


def plot(real: dict, synth: dict, real_crops: list, synth_crops: list, path: Path) -> None:
    columns = min(4, len(real_crops), len(synth_crops))
    fig = plt.figure(figsize=(4 * columns, 10.5))
    grid = fig.add_gridspec(3, max(columns, 4), height_ratios=[1, 1, 0.9])
    for row, (crops, name) in enumerate(((real_crops, "real"), (synth_crops, "synthetic"))):
        for col in range(columns):
            ax = fig.add_subplot(grid[row, col])
            ax.imshow(crops[col][0], cmap="gray", vmin=0, vmax=255)
            ax.contour(crops[col][1] > 0, levels=[0.5], colors="yellow", linewidths=0.4, alpha=0.6)
            ax.set_title(f"{name} {col}", fontsize=9)
            ax.axis("off")
    axes = [fig.add_subplot(grid[2, k]) for k in range(4)]
    centres = np.arange(2, 256, 4)
    for stats, label in ((real, "real"), (synth, "synthetic")):
        axes[0].plot(centres, stats["histogram"], label=label)
        axes[1].loglog(stats["spectrum_freq"], stats["spectrum"], label=label)
        axes[2].plot(EDGE_RANGE, stats["edge_profile"], marker=".", label=label)
        if stats["diameters_px"]:
            axes[3].hist(stats["diameters_px"], bins=30, alpha=0.5, density=True, label=label)
    titles = (
        "intensity histogram",
        "power spectrum",
        "intensity vs edge distance (px)",
        "ECD (px)",
    )
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("real", type=Path, help="folder with images/ and masks/ of real data")
    parser.add_argument("--pattern", default="*", help="glob for real image names")
    parser.add_argument("--style", default="pdc", help="simulator preset")
    parser.add_argument("--size", default="512x768", help="crop / synthetic size HxW")
    parser.add_argument("--n", type=int, default=8, help="crops and synthetic images")
    parser.add_argument("--crop-bottom", type=int, default=0, help="rows to drop (databar)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "sagegan_synth_vs_real"
    )
    args = parser.parse_args()
    height, _, width = args.size.partition("x")
    size = (int(height), int(width))
    rng = np.random.default_rng(args.seed)
    real_crops = random_crops(
        real_pairs(args.real, args.pattern), size, args.n, args.crop_bottom, rng
    )
    config = SimulatorConfig.preset(args.style, size=size)
    samples = [simulate(args.seed * 1000 + k, config) for k in range(args.n)]
    synth_crops = [(s.image, s.labels) for s in samples]
    real, synth = summarise(real_crops), summarise(synth_crops)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(real, synth, real_crops, synth_crops, args.out / "synth_vs_real.png")
    (args.out / "stats.json").write_text(
        json.dumps({"real": real, "synthetic": synth, "style": args.style}, indent=1)
    )
    keys = (
        "mean",
        "std",
        "background_mean",
        "particle_mean",
        "foreground_fraction",
        "particles_per_crop",
        "diameter_px_p10_p50_p90",
        "noise_sigma",
        "spectrum_slope_0.02_0.2",
    )
    print(f"| statistic | real ({args.real.name}) | synthetic ({args.style}) |")
    print("|---|---|---|")
    for key in keys:
        print(f"| {key} | {_fmt(real[key])} | {_fmt(synth[key])} |")
    print(f"\nwrote {args.out / 'synth_vs_real.png'} and stats.json")


def _fmt(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(f"{v:.1f}" for v in value)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
