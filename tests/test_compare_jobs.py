"""Planning a comparison's runs (sagegan.compare.jobs): order, nested subsets, groups."""

from __future__ import annotations

import pickle
from pathlib import Path

from sagegan.compare.jobs import Job, group_by_size_and_seed, plan_jobs
from sagegan.data.splits import Split, load_split, save_split
from sagegan.train import config_from_cli

SPLIT = Split(train=[f"t{i}" for i in range(6)], val=["v0", "v1"], test=["x0", "x1"], seed=0)


def _plan(tmp_path: Path, sizes=(4, 2), seeds=(1, 0), methods=("b", "a")):
    given = tmp_path / "given.json"
    save_split(SPLIT, given)
    config = config_from_cli("tiny", None, {})
    out = tmp_path / "out"
    return out, plan_jobs(out, tmp_path, given, config, sizes, seeds, methods, None)


def test_jobs_go_size_by_size_then_seed_by_seed_in_the_given_orders(
    tmp_path,
) -> None:
    out, (split_path, split, jobs) = _plan(tmp_path)
    assert split_path == out / "split.json" and split.to_dict() == SPLIT.to_dict()
    assert [(job.size, job.seed, job.method) for job in jobs] == [
        (size, seed, method) for size in (4, 2) for seed in (1, 0) for method in ("b", "a")
    ]


def test_each_size_has_its_own_nested_split_file(tmp_path) -> None:
    out, (_, _, jobs) = _plan(tmp_path)
    files = {job.size: job.split_path for job in jobs}
    assert files == {2: out / "splits" / "n2.json", 4: out / "splits" / "n4.json"}
    small, large = load_split(files[2]), load_split(files[4])
    assert set(small.train) < set(large.train) < set(SPLIT.train)
    assert small.test == large.test == SPLIT.test


def test_run_dir_and_groups_by_size_and_seed(tmp_path) -> None:
    job = Job("unet", 2, 1, tmp_path / "n2.json")
    assert job.run_dir(tmp_path) == tmp_path / "runs" / "unet" / "n2" / "s1"
    assert pickle.loads(pickle.dumps(job)) == job  # worker processes receive jobs pickled
    _, (_, _, jobs) = _plan(tmp_path)
    groups = group_by_size_and_seed(jobs)
    assert [[(j.size, j.seed, j.method) for j in group] for group in groups] == [
        [(size, seed, "b"), (size, seed, "a")] for size in (4, 2) for seed in (1, 0)
    ]
