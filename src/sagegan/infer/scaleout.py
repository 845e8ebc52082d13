"""Scale-out over many images on Dask: one task per image, results back in input order.

``workers`` > 1 runs the tasks on a Dask `LocalCluster` of that many single-threaded worker
processes (torch uses ``cores // workers`` threads in each); ``scheduler`` ("tcp://host:port")
sends them to that Dask distributed cluster, whose workers must see the same file system. The
serial loops of the jobs stay the default (``workers=1``, no scheduler): `use_dask` says which.
Dask is the optional extra ``sagegan[dask]``; it is imported only when asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from tqdm import tqdm

from sagegan.errors import ConfigError

if TYPE_CHECKING:
    from distributed import Client

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

DASK_MISSING = "--workers/--scheduler needs `pip install sagegan[dask]`"
CONNECT_TIMEOUT_S = 10.0  # how long to try to reach a scheduler before saying it is unreachable
_PROCESS_CACHE: dict[Hashable, Any] = {}


def use_dask(workers: int, scheduler: str | None) -> bool:
    """True when the work goes to Dask (``workers`` > 1 or a ``scheduler``), False for the serial
    loop; ConfigError for a bad value or when Dask is not installed, before any work."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers must be an integer >= 1, got {workers!r}")
    if scheduler is not None and workers != 1:
        raise ConfigError(
            "give --workers or --scheduler, not both: a Dask cluster has its own workers"
        )
    if workers == 1 and scheduler is None:
        return False
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigError(DASK_MISSING) from None
    return True


def threads_per_worker(workers: int) -> int:
    """Torch threads of each of ``workers`` local processes: this machine's cores shared out."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // workers)


def for_workers(path: Path, scheduler: str | None) -> Path:
    """``path`` as the workers must read it: absolute for a cluster (its processes do not share
    this one's working folder), as given for local workers (so outputs name it as given)."""
    return path.absolute() if scheduler is not None else path


def process_cached(key: Hashable, make: Callable[[], Outcome]) -> Outcome:
    """``make()`` made once per worker process for ``key`` (e.g. a model loaded once, not once
    per image); only the latest key is kept, so a process holds one such value at a time."""
    if key not in _PROCESS_CACHE:
        _PROCESS_CACHE.clear()
        _PROCESS_CACHE[key] = make()
    return _PROCESS_CACHE[key]


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Client]:
    """A client of a local cluster of ``workers`` single-threaded processes, closed afterwards,
    or of the cluster at ``scheduler``; ConfigError when that scheduler cannot be reached."""
    from distributed import Client, LocalCluster

    if scheduler is None:
        with _dask_warnings_only(), environment_kept():
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,  # no dashboard; its HTTP server on a free port
                scheduler_kwargs={"dashboard_address": ":0"},
                silence_logs=logging.WARNING,
            )
            with cluster, Client(cluster) as client:
                yield client
        return
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({err})") from None
    with client:
        yield client


@contextmanager
def environment_kept() -> Iterator[None]:
    """This process's environment as it was before the block: starting a `LocalCluster` sets
    OMP_NUM_THREADS=1 and more in ``os.environ`` (for its workers), which would otherwise reach
    every process this one starts afterwards."""
    before = dict(os.environ)
    try:
        yield
    finally:
        if dict(os.environ) != before:
            os.environ.clear()
            os.environ.update(before)


@contextmanager
def _dask_warnings_only() -> Iterator[None]:
    """Dask's own log lines (the local scheduler's and workers' start and stop) at WARNING only,
    for the duration."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _with_threads(function: Callable[[Item], Outcome], threads: int | None, item: Item) -> Outcome:
    """``function(item)`` with torch set to ``threads`` threads (None: the worker's own)."""
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return function(item)


def map_in_order(
    function: Callable[[Item], Outcome],
    items: Sequence[Item],
    workers: int,
    scheduler: str | None,
    progress: bool = True,
    desc: str = "processing",
) -> list[Outcome]:
    """``function(item)`` of every item, one Dask task each (see the module), in the order of
    ``items``. ``function`` must be picklable (a module-level function or a partial of one) and
    should return its failures rather than raise them: an exception ends the whole map."""
    if not items:
        return []
    threads = threads_per_worker(workers) if scheduler is None else None
    task = partial(_with_threads, function, threads)
    with dask_client(workers, scheduler) as client:
        futures = client.map(task, items, pure=False)
        if progress:
            from distributed import as_completed

            for _ in tqdm(as_completed(futures), total=len(futures), desc=desc, unit="img"):
                pass
        return client.gather(futures)
