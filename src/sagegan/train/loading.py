"""The data loader of one training epoch, reproducible from (seed, epoch, rank) alone."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from sagegan.data.dataset import worker_init_fn
from sagegan.train.runtime import Runtime, derive_seed


def make_loader(
    dataset: Dataset, batch_size: int, runtime: Runtime, seed: int, epoch: int, num_workers: int
) -> DataLoader:
    """The loader of one epoch, depending only on (seed, epoch) and this rank: the sampler
    shuffles by epoch, the dataset draws crops/augmentations from (seed, epoch, index)."""
    dataset.set_epoch(epoch)
    sampler = DistributedSampler(
        dataset, num_replicas=runtime.world_size, rank=runtime.rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=worker_init_fn,
        generator=torch.Generator().manual_seed(derive_seed(seed, epoch)),
        pin_memory=runtime.device.type == "cuda",
    )
