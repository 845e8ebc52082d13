"""The runs of a comparison: one job per (method, training size, seed), planned on one split.

Jobs come size by size in the order the sizes are given, then seed by seed, each seed's methods
in the given order: with the scarce sizes given first, an interrupted comparison already holds
complete, paired comparisons for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sagegan.compare.splits import base_split, resolve_sizes, subset_split
from sagegan.data.splits import Split, groups_from_pattern
from sagegan.train import TrainConfig


@dataclass(frozen=True)
class Job:
    """One run of the comparison and the split file of its training size."""

    method: str
    size: int
    seed: int
    split_path: Path

    def run_dir(self, out: Path) -> Path:
        return out / "runs" / self.method / f"n{self.size}" / f"s{self.seed}"


def plan_jobs(
    out: Path,
    data_dir: Path,
    split_file: str | Path | None,
    preset_config: TrainConfig,
    train_sizes: Sequence[int | str],
    seeds: Sequence[int],
    methods: Sequence[str],
    group_pattern: str | None,
) -> tuple[Path, Split, list[Job]]:
    """The comparison's split (made once as ``out/split.json`` unless given), the nested training
    subsets of each size and the jobs in the order of the module doc."""
    out.mkdir(parents=True, exist_ok=True)
    split_path, split = base_split(
        out,
        data_dir,
        None if split_file is None else Path(split_file),
        preset_config.data.val_fraction,
        preset_config.data.test_fraction,
    )
    sizes = resolve_sizes(list(train_sizes), len(split.train))
    group_of = None if group_pattern is None else groups_from_pattern(split.train, group_pattern)
    size_files = {size: subset_split(split, size, out / "splits", group_of) for size in sizes}
    jobs = [
        Job(method, size, seed, size_files[size])
        for size in sizes
        for seed in seeds
        for method in methods
    ]
    return split_path, split, jobs


def group_by_size_and_seed(jobs: Sequence[Job]) -> list[tuple[Job, ...]]:
    """The jobs grouped by (training size, seed), each group's methods in the given order."""
    groups: dict[tuple[int, int], list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.size, job.seed), []).append(job)
    return [tuple(group) for group in groups.values()]
