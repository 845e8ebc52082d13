"""The particle table of a labels layer: `sagegan.analysis.particles`, as ``particles.csv`` has it.

`measure_labels` measures every particle (lengths in nm when the pixel size is known, else px;
headers with units, e.g. ``ecd_nm``), `features_of` makes the table a labels layer's ``features``
(napari matches rows to labels by the ``index`` column and shows them under the cursor), and
`write_particles_csv` writes it with the columns of `sagegan analyze`'s ``particles.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.analysis.particles import ParticleTable, measure_particles
from sagegan.errors import DataError

FEATURE_INDEX = "index"  # the column napari matches features to label values by


def measure_labels(
    labels: np.ndarray, image: np.ndarray | None = None, pixel_size_nm: float | None = None
) -> ParticleTable:
    """Measure the particles of the 2-D integer ``labels`` (0 background) with the raw grey values
    ``image`` (for ``mean_intensity``; left out when its shape differs) and the pixel size."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(None, f"needs 2-D integer labels, got {labels.dtype} {labels.shape}")
    if labels.min(initial=0) < 0:
        raise DataError(None, "labels must be non-negative (0 = background)")
    if image is not None and np.asarray(image).shape != labels.shape:
        image = None
    return measure_particles(labels, image, pixel_size_nm)


def table_rows(table: ParticleTable) -> list[dict[str, Any]]:
    """One dict per particle with the headers of ``particles.csv`` (units included)."""
    return table.rows()


def features_of(table: ParticleTable) -> dict[str, np.ndarray]:
    """The table as a labels layer's ``features``: one column per header, ``index`` = label."""
    columns = {table.header(name): values for name, values in table.columns.items()}
    return {FEATURE_INDEX: table.columns["label"], **columns}


def write_particles_csv(path: str | Path, table: ParticleTable) -> Path:
    """Write the table as CSV (header row with units, one row per particle)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = table_rows(table)
    headers = [table.header(name) for name in table.columns]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=headers, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
