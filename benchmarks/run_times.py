"""Wall time of every finished run of `sagegan compare` folders (e.g. the real-data benchmark's).

A run's time goes from its ``config.yaml`` (written when training starts or resumes) to its last
test evaluation (``eval-test-paper/metrics.json``, else ``eval-test/metrics.json``), so it
includes the test evaluation; a resumed or paused run counts from its last start and includes the
pause. ``--since`` keeps the runs started after a moment (e.g. those of one session and one
process layout). Prints a markdown table and writes JSON.

    python benchmarks/run_times.py /tmp/real_data2 /tmp/real_data2_dice --since "2026-11-24 16:00" \
        --out benchmarks/results/run_times.json
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

EVALUATIONS = ("eval-test-paper/metrics.json", "eval-test/metrics.json")


def run_times(comparisons: list[Path], since: float | None) -> list[dict[str, Any]]:
    """One row (dataset, method, train images, seed, minutes) per finished run folder
    ``<comparison>/<dataset>/runs/<method>/n<k>/s<seed>``."""
    rows = []
    for comparison in comparisons:
        for run in sorted(comparison.glob("*/runs/*/n*/s*")):
            config = run / "config.yaml"
            done = [run / name for name in EVALUATIONS if (run / name).is_file()]
            if not config.is_file() or not done:
                continue
            start = config.stat().st_mtime
            if since is not None and start < since:
                continue
            dataset, _, method, size, seed = run.relative_to(comparison).parts
            rows.append(
                {
                    "comparison": str(comparison),
                    "dataset": dataset,
                    "method": method,
                    "train_images": int(size[1:]),
                    "seed": int(seed[1:]),
                    "minutes": (done[0].stat().st_mtime - start) / 60,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comparisons", nargs="+", type=Path, help="benchmark --out folders")
    parser.add_argument("--since", help="only runs started after this, e.g. '2026-11-24 16:00'")
    parser.add_argument("--out", type=Path, help="JSON file for the rows")
    args = parser.parse_args()
    since = None if args.since is None else datetime.fromisoformat(args.since).timestamp()
    rows = run_times(args.comparisons, since)
    print("| comparison | dataset | method | train images | seed | minutes |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['comparison']} | {row['dataset']} | {row['method']} | "
            f"{row['train_images']} | {row['seed']} | {row['minutes']:.1f} |"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        document = {"command": "python benchmarks/run_times.py", "since": args.since, "runs": rows}
        args.out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
