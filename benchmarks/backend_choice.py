"""What `--backend auto --precision auto` measures on this machine, and what it picks.

Times one forward pass (best of three after a warm-up) of the benchmark network of
`sagegan.infer.auto_backend` (an Attention U-Net, base width 16, on a 512 x 512 image) with PyTorch
float32, PyTorch bf16 autocast and ONNX Runtime (when installed), prints a table and writes JSON.
It measures afresh (the cache is neither read nor written). Run it on a quiet machine:

    OMP_NUM_THREADS=2 python benchmarks/backend_choice.py \\
        --results benchmarks/results/backend_choice.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sagegan.infer.auto_backend import choose_backend, machine_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--results", type=Path, help="JSON file for the measurements")
    args = parser.parse_args()
    device = torch.device(args.device)
    choice = choose_backend(device, use_cache=False)
    print(f"machine: {machine_key(device)}")
    print("| candidate | seconds per 512 x 512 pass | speed vs PyTorch float32 |")
    print("|---|---|---|")
    reference = choice.seconds["torch/fp32"]
    for name, seconds in choice.seconds.items():
        print(f"| {name} | {seconds:.3f} | {reference / seconds:.2f}x |")
    print(choice.line())
    if args.results is not None:
        record = {"machine": machine_key(device), "choice": choice.backend, **vars(choice)}
        args.results.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
