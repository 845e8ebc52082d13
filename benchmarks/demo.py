"""Wall time of `sagegan demo` per stage, on a fresh output folder (target: <= 15 minutes).

Runs the demo exactly as `make demo` does (40 simulated images, `cpu-small`), in a new temporary
folder unless ``--out`` is given, and prints a table of stage times with the headline numbers;
writes JSON with ``--json``.

    python benchmarks/demo.py --threads 2 --json benchmarks/results/demo.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from memory import peak_rss_mb
from sagegan.demo import run_demo

TARGET_SECONDS = 15 * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="demo folder (default: a new temporary one)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="sagegan-demo-")) / "demo_out"
    start = time.perf_counter()
    result = run_demo(out=out)
    total = time.perf_counter() - start
    peak_mb = peak_rss_mb()
    print("\n| stage | wall s |\n|---|---|")
    for stage, seconds in result.seconds.items():
        print(f"| {stage} | {seconds:.0f} |")
    verdict = "met" if total <= TARGET_SECONDS else "MISSED"
    print(f"| total | {total:.0f} |\n")
    print(f"target <= {TARGET_SECONDS} s: {verdict}; peak RSS {peak_mb:.0f} MB")
    if args.json:
        record = {
            "threads": args.threads,
            "machine": platform.platform(),
            "seconds": result.seconds,
            "total_seconds": total,
            "peak_rss_mb": peak_mb,
            "headline": {key: str(value) for key, value in result.headline.items()},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
