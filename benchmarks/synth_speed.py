"""Speed of the procedural SEM simulator on one thread: images/s, ms/image and peak memory.

Each (size, style) case runs in a fresh process (so peak RSS is its own) with BLAS/OpenMP limited
to one thread, simulates ``--n`` images (``--n-large`` for images above one megapixel) after one
warm-up image, and reports wall-clock and CPU time per image (the CPU time is less disturbed by
other work on a shared machine). Prints a markdown table and writes JSON to ``--out``.

    python benchmarks/synth_speed.py
    python benchmarks/synth_speed.py --sizes 512x768 --styles pdc --n 20
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from memory import peak_rss_mb  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "synth_speed.json"
LARGE_PIXELS = 1_000_000


def parse_size(text: str) -> tuple[int, int]:
    height, _, width = text.partition("x")
    return int(height), int(width)


def run_case(size: tuple[int, int], style: str, n: int) -> dict:
    """Simulate n images (seeds 1..n) after a warm-up; runs inside a fresh worker process."""
    from sagegan.synth import SimulatorConfig, simulate

    config = SimulatorConfig.preset(style, size=size)
    simulate(0, config)
    wall, cpu, particles = [], [], []
    for seed in range(1, n + 1):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        sample = simulate(seed, config)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
        particles.append(sample.meta["n_particles"])
    return {
        "size": list(size),
        "style": style,
        "n": n,
        "images_per_s": n / sum(wall),
        "images_per_s_cpu": n / sum(cpu),
        "ms_per_image_median": 1000 * statistics.median(wall),
        "ms_per_image_cpu_median": 1000 * statistics.median(cpu),
        "ms_per_image_max": 1000 * max(wall),
        "particles_per_image": statistics.mean(particles),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["512x768", "1780x2560"], help="HxW")
    parser.add_argument("--styles", nargs="+", default=["pdc", "tio2", "mixed"])
    parser.add_argument("--n", type=int, default=40, help="images per case")
    parser.add_argument("--n-large", type=int, default=5, help="images per case above 1 MPx")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    results = []
    for text in args.sizes:
        size = parse_size(text)
        n = args.n_large if size[0] * size[1] > LARGE_PIXELS else args.n
        for style in args.styles:
            with context.Pool(1) as pool:
                results.append(pool.apply(run_case, (size, style, n)))
    columns = ("size", "style", "images", "particles/img", "images/s", "ms/image", "CPU ms/image")
    header = " | ".join((*columns, "peak RSS MB"))
    print(f"| {header} |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['size'][0]}x{r['size'][1]} | {r['style']} | {r['n']} "
            f"| {r['particles_per_image']:.0f} | {r['images_per_s']:.1f} "
            f"| {r['ms_per_image_median']:.1f} | {r['ms_per_image_cpu_median']:.1f} "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"processor": platform.processor(), "cpus": os.cpu_count(), "threads": 1}
    args.out.write_text(json.dumps({"machine": machine, "results": results}, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
