"""Regenerate synth_examples.png: one synthetic image per layout with its instance outlines.

Synthetic data only (no real images). Run from the repository root:

    python docs/images/synth_examples.py
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from skimage.segmentation import find_boundaries

from sagegan.synth import SimulatorConfig, simulate

OUT = Path(__file__).with_suffix(".png")
SIZE = (256, 384)
SMALL_PDC = {"diameter_median_nm": (10.0, 10.0), "coverage": (0.1, 0.1)}
SMALL_TIO2 = {"diameter_median_nm": (80.0, 80.0), "coverage": (0.12, 0.12)}
PANELS = (  # (layout, style, seed, overrides)
    ("loops", "pdc", 1, SMALL_PDC),
    ("rings", "pdc", 2, SMALL_PDC),
    ("hexagonal", "pdc", 3, {"diameter_median_nm": (12.0, 12.0), "coverage": (0.3, 0.3)}),
    ("chains", "tio2", 4, SMALL_TIO2),
    ("clusters", "tio2", 5, SMALL_TIO2),
    ("random", "mixed", 6, {}),
)
OUTLINE_RGB = np.array([255, 210, 0], dtype=np.uint8)


def panel(layout: str, style: str, seed: int, overrides: dict) -> tuple[np.ndarray, int]:
    """RGB image with instance outlines drawn in, and the particle count."""
    config = SimulatorConfig.preset(
        style, size=SIZE, layout_weights={layout: 1.0}, scatter_fraction=(0.0, 0.0), **overrides
    )
    sample = simulate(seed, config)
    rgb = np.repeat(sample.image[..., None], 3, axis=2)
    rgb[find_boundaries(sample.labels, mode="inner")] = OUTLINE_RGB
    return rgb, sample.meta["n_particles"]


def main() -> None:
    fig, axes = plt.subplots(2, 3, figsize=(12, 5.6))
    for ax, (layout, style, seed, overrides) in zip(axes.ravel(), PANELS, strict=True):
        rgb, count = panel(layout, style, seed, overrides)
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(f"{layout} ({style} style, {count} particles)", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=100, format="png")
    plt.close(fig)
    buffer.seek(0)
    with Image.open(buffer) as figure:
        figure.convert("RGB").quantize(colors=64).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
