"""Particle sizes and spatial order of the real datasets, measured on their ground-truth masks.

Runs `sagegan.analysis.analyze_images` on ../shared/data/pdc_sem and tio2_sem with the annotated
masks as labels (no model involved), once as annotated and once without objects under
``--min-area`` pixels (annotation specks). Prints markdown tables (per dataset, per pdc_sem image
group) and writes JSON. The per-image outputs go to ``--work`` (under /tmp by default): they are
derivatives of the data, never commit them.

    python benchmarks/real_analysis.py --out benchmarks/results/real_analysis.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sagegan.analysis import analyze_images

DATASETS = ("pdc_sem", "tio2_sem")
FOLDER_COLUMNS = (
    ("images", "images", "{:d}"),
    ("count", "particles", "{:d}"),
    ("density", "density (per um2 or px2)", "{:.4g}"),
    ("coverage", "coverage", "{:.3f}"),
    ("ecd_median", "ECD median", "{:.1f}"),
    ("ecd_d10", "D10", "{:.1f}"),
    ("ecd_d90", "D90", "{:.1f}"),
    ("lognormal_median", "log-normal median", "{:.1f}"),
    ("lognormal_gsd", "GSD", "{:.2f}"),
)
ORDER_COLUMNS = (
    ("clark_evans", "Clark-Evans R"),
    ("clark_evans_z", "R z"),
    ("psi6_mean", "mean abs psi6"),
    ("psi6_z", "psi6 z"),
    ("g_peak_z", "g peak z"),
    ("ring_density_z", "ring density z"),
    ("largest_cluster_z", "largest cluster z"),
)


def _value(row: dict[str, Any], key: str, unit: str) -> Any:
    for name in (key, f"{key}_{unit}", f"{key}_per_um2", f"{key}_per_px2"):
        if name in row:
            return row[name]
    return None


def _format(value: Any, pattern: str = "{:.3g}") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return pattern.format(value)


def image_group(stem: str) -> str:
    """pdc_sem stems are <group>_<k> (graphite, graphite10, ngc, large); others: the dataset."""
    match = re.fullmatch(r"([a-z]+\d*)_\d+", stem)
    return match.group(1) if match else "all"


def _group_means(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean over the group's images of every numeric per-image scalar (None values skipped)."""
    means: dict[str, float] = {"images": len(rows)}
    for key in rows[0]:
        values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
        if values and not isinstance(values[0], bool):
            means[key] = float(np.mean(values))
    return means


def run(data_root: Path, work: Path, min_area: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in DATASETS:
        folder = data_root / name
        if not folder.is_dir():
            print(f"skipping {name}: {folder} not found")
            continue
        for area in (0, min_area):
            start = time.perf_counter()
            result = analyze_images(
                [folder / "images"],
                work / f"{name}-min{area}",
                labels_dir=folder / "masks",
                min_area_px=area,
                max_figures=0,
                progress=False,
            )
            groups: dict[str, list[dict[str, Any]]] = {}
            for analysis in result.images:
                groups.setdefault(image_group(analysis.stem), []).append(analysis.scalars)
            results[f"{name} (min area {area} px)"] = {
                "unit": result.unit,
                "seconds": time.perf_counter() - start,
                "folder": result.folder,
                "groups": {group: _group_means(rows) for group, rows in groups.items()},
            }
    return results


def print_tables(results: dict[str, Any]) -> None:
    header = ["dataset", "unit", *(label for _, label, _ in FOLDER_COLUMNS)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, entry in results.items():
        unit, folder = entry["unit"], entry["folder"]
        cells = [_format(_value(folder, key, unit), pattern) for key, _, pattern in FOLDER_COLUMNS]
        print(f"| {name} | {unit} | " + " | ".join(cells) + " |")
    print()
    header = [
        "dataset",
        "group",
        "images",
        "particles/image",
        *(label for _, label in ORDER_COLUMNS),
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, entry in results.items():
        for group, row in entry["groups"].items():
            cells = [_format(row.get(key)) for key, _ in ORDER_COLUMNS]
            print(
                f"| {name} | {group} | {row['images']} | {row['count']:.0f} | "
                + " | ".join(cells)
                + " |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "sagegan-real-analysis"
    )
    parser.add_argument("--min-area", type=int, default=10, help="speck threshold in pixels (10)")
    parser.add_argument("--out", type=Path, help="JSON file for the results")
    args = parser.parse_args()
    data = Path(os.environ.get("SAGEGAN_SHARED_DATA", args.data))
    results = run(data.resolve(), args.work, args.min_area)
    if not results:
        raise SystemExit(f"no dataset found under {data}")
    print_tables(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
