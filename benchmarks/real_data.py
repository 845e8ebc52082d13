"""Real-data benchmark: Attention U-Net alone vs SAGE-GAN vs a baseline on real SEM/TEM images.

For each dataset of ../shared/data (pdc_sem, tio2_sem, emps) this runs `sagegan compare` with a
fixed split (``benchmarks/splits/<dataset>.json``: stems only, made once with seed 0 and then
reused), nested training subsets including a scarce one, several seeds and one preset, and scores
every run on the untouched test split at native resolution and with the SAGE-GAN code's protocol.
Selection, early stopping and schedules see the validation split only. Everything is resumable:
rerun the same command after an interruption. Prints one markdown table and writes JSON.

    python benchmarks/real_data.py --workers 2 --out /tmp/real_data \
        --results benchmarks/results/real_data.json
    python benchmarks/real_data.py --datasets pdc_sem --seeds 1 --seed-start 2 --preset paper \
        --set pretrain.val_every=10 --out /tmp/real_gpu      # on a GPU: one process per seed
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from sagegan.commands.common import parse_overrides
from sagegan.compare import run_comparison
from sagegan.compare.by_sample import sample_markdown
from sagegan.compare.tables import PAPER_METRICS
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import groups_from_pattern, make_grouped_split, make_split, save_split
from sagegan.errors import DataError

SPLITS = Path(__file__).parent / "splits"
# per dataset: validation and test fractions of the fixed split, the training sizes (image
# counts; "all" = the whole training part) and, where the stems name sample groups, a pattern
# whose first group is the stem's sample: the split and the training subsets are then stratified
# by sample (a scarce subset holds one image of each of as many samples as it can). pdc_sem's
# images are 2560x1780 (graphite_*, graphite10_*, ngc_*, large_*): training reads native-
# resolution patches of them, so 3 images are already a few hundred patches.
DATASETS: dict[str, dict[str, Any]] = {
    "pdc_sem": {"val": 0.18, "test": 0.24, "sizes": (3, "all"), "groups": r"^([a-z]+\d*)_\d+$"},
    "tio2_sem": {"val": 0.15, "test": 0.25, "sizes": (5, "all")},
    "emps": {"val": 0.10, "test": 0.15, "sizes": (10, 50)},
}
DEFAULT_METHODS = ("unet", "attention_unet", "sage_gan")
# the table's columns: (label, per-image column) under both protocols
TABLE_METRICS = (("Dice", "dice"), ("F1@0.5", "f1@0.50"), *PAPER_METRICS)


def fixed_split(name: str, data_dir: Path) -> Path:
    """The dataset's committed split file, made (seed 0) when it does not exist yet."""
    path = SPLITS / f"{name}.json"
    if not path.is_file():
        stems = [pair.stem for pair in find_pairs(data_dir)]
        spec = DATASETS[name]
        fractions = {"val_fraction": spec["val"], "test_fraction": spec["test"]}
        if "groups" in spec:
            group_of = groups_from_pattern(stems, spec["groups"])
            split = make_grouped_split(stems, group_of, seed=0, **fractions)
        else:
            split = make_split(stems, seed=0, **fractions)
        save_split(split, path)
        print(f"made the fixed split {path}")
    return path


def _cell(row: dict[str, Any], key: str) -> str:
    mean, sd = row[f"{key}_mean"], row[f"{key}_sd"]
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {sd:.3f}"


def markdown(results: dict[str, Any]) -> str:
    header = ["dataset", "method", "train images", "seeds", *(label for label, _ in TABLE_METRICS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, entry in results.items():
        for row in entry["summary"]:
            cells = [name, row["method"], str(row["train_images"]), str(row["n_seeds"])]
            cells += [_cell(row, key) for _, key in TABLE_METRICS]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n" + "".join(_sample_table(n, e) for n, e in results.items())


def _sample_table(name: str, entry: dict[str, Any]) -> str:
    """The dataset's per-sample rows (datasets with sample groups), as a markdown table."""
    rows = entry.get("by_sample") or []
    if not rows:
        return ""
    return f"\n{name}:\n\n" + sample_markdown(rows, TABLE_METRICS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data", type=Path, default=default_data, help="shared data folder")
    parser.add_argument("--out", type=Path, required=True, help="runs (resumable), e.g. /tmp/real")
    parser.add_argument("--results", type=Path, help="JSON file for the summary")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=lambda text: text if text == "all" else int(text),
        help="training sizes (image counts or 'all'; default: each dataset's, see DATASETS)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method (3)")
    parser.add_argument(
        "--seed-start",
        type=int,
        default=0,
        help="first seed (0): seeds run from it, e.g. one process per seed on a GPU",
    )
    parser.add_argument("--preset", default="cpu-small", help="cpu-small (CPU) or paper (GPU)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes per dataset, each running one (size, seed) at a time (2 on 2 cores)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--finished-only",
        action="store_true",
        help="train nothing: tabulate the runs finished so far (e.g. while the benchmark runs)",
    )
    args = parser.parse_args()
    data_root = Path(os.environ.get("SAGEGAN_SHARED_DATA", args.data))
    overrides = parse_overrides(args.set)  # as `sagegan train --set` reads them (1e-4 a float)
    results: dict[str, Any] = {}
    for name in args.datasets:
        data_dir = data_root / name
        if not data_dir.is_dir():
            print(f"skipping {name}: {data_dir} not found")
            continue
        start = time.perf_counter()
        try:
            result = run_comparison(
                data_dir,
                args.out / name,
                methods=args.methods,
                seeds=tuple(range(args.seed_start, args.seed_start + args.seeds)),
                train_sizes=args.sizes or DATASETS[name]["sizes"],
                preset=args.preset,
                split_file=fixed_split(name, data_dir),
                overrides=overrides,
                paper_protocol=True,
                finished_only=args.finished_only,
                group_pattern=DATASETS[name].get("groups"),
                workers=args.workers,
            )
        except DataError as err:
            if not args.finished_only:
                raise
            print(f"skipping {name}: {err}")
            continue
        results[name] = {
            "seconds": time.perf_counter() - start,
            "preset": args.preset,
            "split": str(SPLITS / f"{name}.json"),
            "summary": result.summary,
            "runs": result.runs,
            "by_sample": result.by_sample,
        }
    if not results:
        raise SystemExit(f"no dataset found under {data_root}")
    print(markdown(results))
    if args.results:
        write_results(args.results, results, vars(args))


def write_results(path: Path, results: dict[str, Any], args: dict[str, Any]) -> None:
    """Merge this invocation's datasets into the JSON at ``path`` (datasets run separately, e.g.
    in parallel, add up) and write the table of all of them next to it as markdown."""
    datasets = json.loads(path.read_text())["datasets"] if path.is_file() else {}
    for name, entry in results.items():
        datasets[name] = {**entry, "args": args}
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"command": "python benchmarks/real_data.py", "datasets": datasets}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    path.with_suffix(".md").write_text(markdown(datasets))
    print(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
