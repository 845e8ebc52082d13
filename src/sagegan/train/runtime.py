"""Device, mixed precision, DistributedDataParallel and seeding shared by both training stages.

* Device "auto" picks CUDA when available. AMP "auto" is fp32 on CPU and bf16 on CUDA where the GPU
  supports it, else fp16; fp16 gets one GradScaler per optimiser (``make_scaler``), and backward
  runs outside autocast.
* Distributed runs are started by ``torchrun``: ``setup_runtime`` reads RANK/WORLD_SIZE/LOCAL_RANK
  from the environment and initialises the process group (gloo on CPU, nccl on CUDA). Every network
  is wrapped in its own DistributedDataParallel (SyncBatchNorm on CUDA); only rank 0 writes files.
* Randomness: global RNGs are seeded at the start of each stage and saved/restored by checkpoints;
  per-epoch generators are derived from (seed, stage, epoch, rank) with ``derive_seed``.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from sagegan.errors import ConfigError
from sagegan.infer.device import resolve_device
from sagegan.train.config import RuntimeConfig

STAGE_KEYS = {"pretrain": 1, "gan": 2}


@dataclass
class Runtime:
    """Where and how the networks run: device, autocast dtype, memory layout, and this
    process's rank."""

    device: torch.device
    amp_dtype: torch.dtype | None
    rank: int = 0
    world_size: int = 1
    channels_last: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast context for forward passes (a no-op in fp32)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def make_scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, active only for fp16 (one per optimiser)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)

    def wrap(self, module: nn.Module) -> nn.Module:
        """Move to the device (channels-last if the runtime says so) and, in a distributed run,
        wrap in DistributedDataParallel."""
        module = module.to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        if not self.distributed:
            return module
        if self.device.type == "cuda":
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            return nn.parallel.DistributedDataParallel(module, device_ids=[self.device.index])
        return nn.parallel.DistributedDataParallel(module)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (a list of one in a single-process run)."""
        if not self.distributed:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def from_main(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (other ranks may pass None)."""
        if not self.distributed:
            return value
        values = [value]
        dist.broadcast_object_list(values, src=0)
        return values[0]

    def any_true(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any rank."""
        if not self.distributed:
            return flag
        tensor = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item())


def setup_runtime(config: RuntimeConfig) -> Runtime:
    """Resolve the device and precision, and join the process group when run under torchrun."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _resolve_device(config.device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    amp = resolve_amp(config.amp, device)
    return Runtime(device, amp, rank, world_size, channels_last=config.channels_last)


def _resolve_device(name: str, local_rank: int) -> torch.device:
    """`resolve_device` of ``runtime.device``; an unindexed cuda is this process's GPU."""
    device = resolve_device(name, "runtime.device")
    if device.type != "cuda":
        return device
    device = torch.device("cuda", local_rank if device.index is None else device.index)
    torch.cuda.set_device(device)
    return device


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype ``runtime.amp`` = ``mode`` trains with on ``device`` (None: float32)."""
    if mode == "none" or (mode == "auto" and device.type == "cpu"):
        return None
    if mode == "bf16":
        return torch.bfloat16
    if mode == "fp16":
        if device.type != "cuda":
            raise ConfigError("runtime.amp: fp16 needs a CUDA device (use bf16 or none on CPU)")
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def shutdown(runtime: Runtime) -> None:
    """Leave the process group if this run joined one."""
    if runtime.distributed and dist.is_initialized():
        dist.destroy_process_group()


def derive_seed(*keys: int) -> int:
    """A 32-bit seed derived from integer keys (independent streams for different keys)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0])


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the legacy global generator other code may use)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global generators' states, for a checkpoint."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_state_to_tensors(np.random.get_state()),  # noqa: NPY002
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states saved by ``rng_state``."""
    random.setstate(state["python"])
    np.random.set_state(_numpy_state_from_tensors(state["numpy"]))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _numpy_state_to_tensors(state: tuple) -> tuple:
    """NumPy's legacy state with its key array as a tensor (loadable with ``weights_only=True``)."""
    name, keys, pos, has_gauss, cached = state
    return name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached


def _numpy_state_from_tensors(state: tuple) -> tuple:
    name, keys, pos, has_gauss, cached = state
    return name, keys.numpy().astype(np.uint32), pos, has_gauss, cached


@contextlib.contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Put modules in eval mode for the block and restore their previous modes afterwards."""
    modes = [[m.training for m in module.modules()] for module in modules]
    for module in modules:
        module.eval()
    try:
        yield
    finally:
        for module, saved in zip(modules, modes, strict=True):
            for m, training in zip(module.modules(), saved, strict=True):
                m.training = training
