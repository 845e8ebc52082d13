"""Peak memory and time of `sagegan segment` on large images (2048^2 .. 8192^2 pixels).

For every size a simulated ``pdc`` image (seed 0, cached under ``--work``) is segmented by
`segment_images` in a fresh subprocess with ``--threads`` threads, writing every output (mask,
probability, labels, attention overlay, JSON); the subprocess reports its own peak RSS
(VmHWM). The table gives peak RSS in MB and in bytes per image pixel: a pipeline whose
working memory is bounded by the tile shows a per-pixel figure that stays flat as the image grows
(what remains per pixel are the image-sized inputs, accumulators and outputs themselves).

    sagegan demo --out /tmp/demo        # any trained run folder will do
    python benchmarks/segment_large.py --model /tmp/demo/run \\
        --results benchmarks/results/segment_large.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from memory import peak_rss_mb


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Segment one image in this process; its wall time, peak RSS and particle count."""
    from sagegan.infer import PredictionOptions, segment_images

    start = time.perf_counter()
    options = PredictionOptions(tile=tuple(spec["tile"]))
    summary = segment_images([spec["image"]], spec["model"], spec["out"], options, progress=False)
    seconds = time.perf_counter() - start
    if not summary.ok:
        raise SystemExit(summary.failures[0].message)
    peak_mb = peak_rss_mb()
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_mb,
        "particles": summary.results[0].particle_count,
    }


def simulated_image(size: int, work: Path) -> Path:
    """A cached simulated pdc image of size x size pixels (8-bit TIFF)."""
    from sagegan.data.io import write_image
    from sagegan.synth.config import SimulatorConfig
    from sagegan.synth.simulator import simulate

    path = work / f"pdc_{size}.tif"
    if not path.is_file():
        sample = simulate(0, SimulatorConfig.preset("pdc", size=(size, size)))
        work.mkdir(parents=True, exist_ok=True)
        write_image(path, sample.image)
    return path


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    image = simulated_image(size, args.work)
    spec = {
        "image": str(image),
        "model": str(args.model),
        "out": str(args.work / f"out_{size}"),
        "tile": args.tile,
    }
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    command = [sys.executable, __file__, "--worker", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"segmenting {image} failed:\n{done.stderr[-2000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    pixels = size * size
    return {
        "size": size,
        "megapixels": pixels / 1e6,
        **row,
        "bytes_per_pixel": row["peak_rss_mb"] * 2**20 / pixels,
        "threads": args.threads,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| image | Mpx | particles | wall s | peak RSS MB | bytes / pixel |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['size']}x{row['size']} | {row['megapixels']:.1f} | {row['particles']} | "
            f"{row['seconds']:.0f} | {row['peak_rss_mb']:.0f} | {row['bytes_per_pixel']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="trained run folder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    parser.add_argument("--tile", type=int, nargs=2, default=[512, 512])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sagegan-segment-large"))
    parser.add_argument("--results", type=Path, help="JSON file for the rows")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        rows.append(measure(size, args))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    if args.results:
        document = {
            "command": "python benchmarks/segment_large.py " + " ".join(sys.argv[1:]),
            "numpy": np.__version__,
            "rows": rows,
        }
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(document, indent=2) + "\n")
        args.results.with_suffix(".md").write_text(table(rows))
        print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
