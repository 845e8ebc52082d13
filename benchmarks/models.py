"""CPU cost of every registered network: parameters, GFLOPs, forward and forward+backward time.

Each network runs at its CPU default config and at its paper config (``ModelInfo.paper_cfg``;
skipped at 512x768 with ``--quick``), batch 1, fp32, 2 threads. Times are medians of ``--repeats``
runs after ``--warmup`` runs. Prints a markdown table and writes JSON to ``--out``.

    python benchmarks/models.py --quick --sizes 256x256
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from sagegan.models import ModelInfo, SegmentationOutput, build_model, count_parameters, list_models

DEFAULT_SIZES = ("256x256", "512x768")
DEFAULT_OUT = Path(__file__).parent / "results" / "models.json"


def parse_size(text: str) -> tuple[int, int]:
    height, _, width = text.partition("x")
    return int(height), int(width)


def make_input(info: ModelInfo, cfg: dict, size: tuple[int, int]) -> Tensor:
    """A binary mask for the generator, a random image for the others (batch 1)."""
    channels = cfg.get("in_channels", info.default_cfg["in_channels"])
    if info.kind == "generator":
        return (torch.rand(1, channels, *size) > 0.5).float()
    return torch.randn(1, channels, *size)


def forward(model: nn.Module, x: Tensor) -> Tensor:
    output = model(x)
    return output.logits if isinstance(output, SegmentationOutput) else output


def median_seconds(step: Callable[[], None], repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_gflops(model: nn.Module, x: Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        forward(model, x)
    return counter.get_total_flops() / 1e9


def measure(
    info: ModelInfo, label: str, cfg: dict, size: tuple[int, int], repeats: int, warmup: int
) -> dict:
    model = build_model(info.name, **cfg)
    x = make_input(info, cfg, size)

    def inference() -> None:
        with torch.no_grad():
            forward(model, x)

    def training_step() -> None:
        model.zero_grad(set_to_none=True)
        forward(model, x).mean().backward()

    model.eval()
    gflops = forward_gflops(model, x)
    forward_s = median_seconds(inference, repeats, warmup)
    model.train()
    train_s = median_seconds(training_step, repeats, warmup)
    return {
        "model": info.name,
        "config": label,
        "base_width": {**info.default_cfg, **cfg}["base_width"],
        "parameters": count_parameters(model),
        "size": f"{size[0]}x{size[1]}",
        "gflops_forward": round(gflops, 3),
        "forward_s": round(forward_s, 4),
        "forward_backward_s": round(train_s, 4),
    }


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| model | config | width | params | size | GFLOP fwd | fwd s | fwd+bwd s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['config']} | {row['base_width']} "
            f"| {row['parameters'] / 1e6:.2f}M | {row['size']} | {row['gflops_forward']:.1f} "
            f"| {row['forward_s']:.3f} | {row['forward_backward_s']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="HxW sizes")
    parser.add_argument("--quick", action="store_true", help="skip paper configs above 256x256")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    rows = []
    for size in map(parse_size, args.sizes):
        for info in list_models():
            configs = [("cpu", {})]
            paper = {**info.default_cfg, **info.paper_cfg}
            if paper != info.default_cfg and not (args.quick and size[0] * size[1] > 256 * 256):
                configs.append(("paper", info.paper_cfg))
            for label, cfg in configs:
                row = measure(info, label, cfg, size, args.repeats, args.warmup)
                print(row, flush=True)
                rows.append(row)

    print(markdown_table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "torch": torch.__version__,
        "threads": args.threads,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "batch": 1,
        "dtype": "float32",
        "repeats": args.repeats,
        "warmup": args.warmup,
    }
    args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
