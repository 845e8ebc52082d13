"""CPU time and peak memory of the perceptual loss (forward + backward) for a few configurations.

Each (configuration, image size) runs in a fresh subprocess so its peak RSS is its own. Prints a
markdown table and writes JSON.

    python benchmarks/perceptual.py --quick
    python benchmarks/perceptual.py --weights random --arch vgg19   # the reference's network
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from memory import current_rss_mb, peak_rss_mb

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

CASES: dict[str, dict[str, object]] = {
    "all 5 layers": {"layers": None, "downscale": 1},
    "up to relu3_1": {"layers": ["relu1_1", "relu2_1", "relu3_1"], "downscale": 1},
    "up to relu4_1": {"layers": ["relu1_1", "relu2_1", "relu3_1", "relu4_1"], "downscale": 1},
    "all 5 layers, downscale 2": {"layers": None, "downscale": 2},
}
SIZES = ((256, 256), (512, 768))


def run_case(case: str, height: int, width: int, args: argparse.Namespace) -> dict[str, object]:
    """Time one configuration in this process; returns its measurements."""
    import torch

    from sagegan.losses import build_perceptual_loss

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    options = CASES[case]
    source = "random" if args.weights == "random" else "auto"
    loss = build_perceptual_loss(
        source, layers=options["layers"], downscale=options["downscale"], random_arch=args.arch
    )
    build_s = time.perf_counter() - started
    generator = torch.Generator().manual_seed(0)
    shape = (args.batch, 1, height, width)
    fake = (torch.rand(shape, generator=generator) * 2 - 1).requires_grad_(True)
    real = torch.rand(shape, generator=generator) * 2 - 1
    rss_after_build = current_rss_mb()
    times = []
    for step in range(args.warmup + args.repeats):
        fake.grad = None
        started = time.perf_counter()
        loss(fake, real).backward()
        if step >= args.warmup:
            times.append(time.perf_counter() - started)
    return {
        "case": case,
        "size": f"{height}x{width}",
        "batch": args.batch,
        "torch": torch.__version__,
        "weights_source": loss.weights_source,
        "build_s": round(build_s, 3),
        "forward_backward_s": round(statistics.median(times), 3),
        "times_s": [round(t, 3) for t in times],
        "rss_after_build_mib": round(rss_after_build, 1),
        "peak_rss_mib": round(peak_rss_mb(), 1),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "benchmarks/results/perceptual.json"
    )
    parser.add_argument("--quick", action="store_true", help="one warm-up and one timed step")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per case (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per case")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument(
        "--weights",
        choices=("auto", "random"),
        default="auto",
        help="auto: the stlpips VGG16; random: --arch",
    )
    parser.add_argument("--arch", choices=("vgg16", "vgg19"), default="vgg19", help="random only")
    parser.add_argument(
        "--worker", nargs=3, metavar=("CASE", "HEIGHT", "WIDTH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.warmup = 1, 1
    return args


def child_command(case: str, height: int, width: int, args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--worker",
        case,
        str(height),
        str(width),
        f"--repeats={args.repeats}",
        f"--warmup={args.warmup}",
        f"--threads={args.threads}",
        f"--batch={args.batch}",
        f"--weights={args.weights}",
        f"--arch={args.arch}",
    ]


def main() -> None:
    args = parse_args()
    if args.worker:
        case, height, width = args.worker
        print(json.dumps(run_case(case, int(height), int(width), args)))
        return
    environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    results = []
    for height, width in SIZES:
        for case in CASES:
            child = subprocess.run(
                child_command(case, height, width, args),
                capture_output=True,
                text=True,
                env=environment,
            )
            if child.returncode != 0:
                sys.exit(f"{case} at {height}x{width} failed:\n{child.stderr}")
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(f"done: {case} at {height}x{width}", file=sys.stderr)
    print(
        f"\nweights: {results[0]['weights_source']}; batch {args.batch}; threads {args.threads}\n"
    )
    print("| configuration | size | fwd+bwd s | peak RSS MiB | RSS after build MiB |")
    print("|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['case']} | {row['size']} | {row['forward_backward_s']:.3f} "
            f"| {row['peak_rss_mib']:.0f} | {row['rss_after_build_mib']:.0f} |"
        )
    report = {
        "benchmark": "perceptual loss forward+backward (CPU)",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "threads": args.threads,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
