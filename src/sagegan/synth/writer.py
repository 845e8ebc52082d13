"""Writing a synthetic dataset to disk: images (TIFF with pixel size), masks, labels, meta.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tifffile
from tqdm import tqdm

import sagegan
from sagegan.data.io import write_labels, write_mask
from sagegan.errors import ConfigError, DataError
from sagegan.synth.config import SimulatorConfig
from sagegan.synth.simulator import simulate

NM_PER_CM = 1e7


def image_seed(seed: int, index: int) -> int:
    """Seed of image ``index`` of a dataset written with ``seed`` (independent of the count)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def write_sem_tiff(path: Path, image: np.ndarray, pixel_size_nm: float) -> None:
    """Write an 8-bit image as TIFF whose X/YResolution tags (pixels per cm) hold the pixel size."""
    pixels_per_cm = NM_PER_CM / pixel_size_nm
    tifffile.imwrite(
        path,
        image,
        resolution=(pixels_per_cm, pixels_per_cm),
        resolutionunit="CENTIMETER",
        compression="zlib",
    )


def write_dataset(
    out: str | Path,
    n: int,
    size: tuple[int, int] | None = None,
    seed: int = 0,
    config: SimulatorConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Simulate ``n`` images into ``out`` and return ``out``.

    Layout: images/synth_0000.tif (uint8, resolution tags = pixel size), masks/synth_0000.png
    (0/255), labels/synth_0000.tif (uint16 instances) and meta.json (sagegan version, seed,
    config, per-image metadata). ``size`` (height, width) replaces the config's size (default
    512 x 768). Image i depends only on (seed, i, config), so a larger n extends a smaller one.
    A folder that already holds files is refused unless ``overwrite``; then earlier synth_*
    files are replaced and any beyond ``n`` removed so that the folder matches meta.json.
    """
    if n < 1:
        raise ConfigError(f"number of images must be at least 1, got {n}")
    config = config or SimulatorConfig()
    if size is not None:
        config = config.with_size(size)
    out = Path(out)
    folders = {name: out / name for name in ("images", "masks", "labels")}
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise DataError(out, "folder is not empty; choose a new folder or pass overwrite")
        for folder in folders.values():
            for stale in folder.glob("synth_*"):
                stale.unlink()
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(n - 1)))
    records = []
    for index in tqdm(range(n), desc="simulating", unit="img", disable=not progress):
        stem = f"synth_{index:0{digits}d}"
        sample = simulate(image_seed(seed, index), config)
        write_sem_tiff(folders["images"] / f"{stem}.tif", sample.image, config.pixel_size_nm)
        write_mask(folders["masks"] / f"{stem}.png", sample.mask)
        write_labels(folders["labels"] / f"{stem}.tif", sample.labels)
        records.append(
            {
                "image": f"images/{stem}.tif",
                "mask": f"masks/{stem}.png",
                "labels": f"labels/{stem}.tif",
                **sample.meta,
            }
        )
    meta = {
        "generator": "sagegan.synth",
        "sagegan_version": sagegan.__version__,
        "seed": seed,
        "n": n,
        "pixel_size_nm": config.pixel_size_nm,
        "config": config.to_dict(),
        "images": records,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return out
