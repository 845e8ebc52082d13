"""Timing training steps for the plan (`sagegan.train.planning`): the step time a budget needs, and
the precision on a CPU.

bf16 autocast trains 1.4-1.5x faster than float32 on a CPU with native bf16 (AVX-512 BF16 or
AMX) and several times slower on one without (docs/accuracy.md sections 3 and 8), so the plan
times a few steps of the planned network in both precisions where bf16 can pay, and keeps bf16
only when it is at least ``BF16_MIN_GAIN`` times faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from sagegan.data.dataset import SegmentationDataset
from sagegan.losses import build_segmentation_loss
from sagegan.models import build_model
from sagegan.train.config import TrainConfig
from sagegan.train.config_sections import kept_by_plan
from sagegan.train.runtime import resolve_amp

TIMED_STEPS = 5
UNTIMED_STEPS = 2  # the first steps at a new shape pay for allocation and kernel selection
BF16_MIN_GAIN = 1.2  # bf16 autocast must beat float32 by this factor to be planned


def measure_step_seconds(
    segmenter: str,
    segmenter_kwargs: dict[str, Any],
    loss: str,
    patch_px: int,
    batch_size: int,
    device: torch.device,
    amp: str = "none",
) -> float:
    """Median wall time of a training step (forward, loss, backward, Adam) on random data, after
    ``UNTIMED_STEPS`` warm-up steps, in the precision the trainer gives ``runtime.amp`` = ``amp``
    on ``device`` ("auto": float32 on a CPU, bf16 or fp16 on a GPU); the data loading the real
    loop adds is not counted."""
    amp_dtype = resolve_amp(amp, device)
    model = build_model(segmenter, **segmenter_kwargs).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    criterion = build_segmentation_loss(loss).to(device)
    generator = torch.Generator().manual_seed(0)
    shape = (batch_size, 1, patch_px, patch_px)
    image = (torch.rand(shape, generator=generator) * 2 - 1).to(device)
    target = (torch.rand(shape, generator=generator) > 0.7).float().to(device)
    times = []
    for _ in range(UNTIMED_STEPS + TIMED_STEPS):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(image).logits
        criterion(logits.float(), target, None).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times[UNTIMED_STEPS:]))


def data_seconds(dataset: SegmentationDataset, batch_size: int) -> float:
    """Wall time to cut and augment one batch of ``dataset`` (the loop's data loading)."""
    start = time.perf_counter()
    for index in range(batch_size):
        dataset[index % len(dataset)]
    return time.perf_counter() - start


def native_bf16_cpu() -> bool:
    """Whether this CPU has bf16 instructions (AVX512-BF16 or AMX), where bf16 can pay."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def planned_amp(
    config: TrainConfig, step_seconds: Callable[[str], float], device: torch.device
) -> tuple[str, str]:
    """``runtime.amp`` for the run and the reason: "bf16" on a CPU with native bf16 where it
    trains at least ``BF16_MIN_GAIN`` times faster than float32, as ``step_seconds(amp)``
    measures it, else "auto"."""
    if device.type != "cpu" or config.runtime.amp != "auto":
        return "auto", ""
    if kept_by_plan("runtime.amp", config.plan.keep):
        return "auto", ""
    if not native_bf16_cpu():
        return "auto", "this CPU has no native bf16: training runs in float32"
    gain = step_seconds("none") / step_seconds("bf16")
    if gain >= BF16_MIN_GAIN:
        return "bf16", (
            f"bf16 autocast measured {gain:.1f}x faster per training step than float32 on this "
            "CPU: training runs in bf16"
        )
    return "auto", (
        f"bf16 autocast measured {gain:.1f}x the float32 speed per training step on this CPU "
        f"(under {BF16_MIN_GAIN}x): training runs in float32"
    )
