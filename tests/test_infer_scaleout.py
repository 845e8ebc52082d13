"""Scale-out of segment and analyze on Dask: local workers and a LocalCluster give the serial run's
outputs and summary, failures come back in order, bad settings are one-line errors."""

from __future__ import annotations

import csv
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagegan.analysis import analyze_images
from sagegan.cli import main
from sagegan.errors import ConfigError
from sagegan.infer import PredictionOptions, SegmentSummary, scaleout, segment_images
from sagegan.infer.scaleout import (
    DASK_MISSING,
    environment_kept,
    process_cached,
    threads_per_worker,
    use_dask,
)

TILED = PredictionOptions(tile=(64, 64))


@pytest.fixture(scope="module")
def inputs(tiny_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three images of the tiny run's dataset with a corrupt file between them."""
    corrupt = tmp_path_factory.mktemp("scaleout_inputs") / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    first, second, third = sorted((tiny_run[0] / "images").iterdir())[:3]
    return [first, corrupt, second, third]


@pytest.fixture(scope="module")
def serial(
    tiny_run: tuple[Path, Path], inputs: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> SegmentSummary:
    out = tmp_path_factory.mktemp("scaleout_serial")
    return segment_images(inputs, tiny_run[1], out, TILED, progress=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The scheduler address of a local Dask cluster of two single-threaded worker processes."""
    from distributed import LocalCluster

    with environment_kept():
        local = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with local:
        yield local.scheduler_address


def _outcome(summary: SegmentSummary) -> tuple[list, list]:
    """A summary's results (written files relative to its folder) and failures, comparable."""
    results = [
        (
            r.stem,
            r.source,
            {name: path.relative_to(summary.out) for name, path in r.files.items()},
            r.particle_count,
            r.databar_rows,
        )
        for r in summary.results
    ]
    return results, [(f.source, f.message) for f in summary.failures]


def _assert_same_outputs(summary: SegmentSummary, reference: SegmentSummary) -> None:
    """Same summary, same file names, identical bytes, equal JSON records."""
    assert _outcome(summary) == _outcome(reference)
    names = sorted(path.name for path in summary.out.iterdir())
    assert names == sorted(path.name for path in reference.out.iterdir())
    assert any(name.endswith("_labels.tif") for name in names)
    for name in names:
        ours, theirs = summary.out / name, reference.out / name
        if name.endswith(".json"):
            assert json.loads(ours.read_text()) == json.loads(theirs.read_text()), name
        else:
            assert ours.read_bytes() == theirs.read_bytes(), name


def test_serial_run_reports_the_corrupt_file_in_order(
    serial: SegmentSummary, inputs: list[Path]
) -> None:
    assert [result.source for result in serial.results] == [inputs[0], *inputs[2:]]
    assert [failure.source for failure in serial.failures] == [inputs[1]]


def test_local_workers_write_what_the_serial_run_writes(
    tiny_run: tuple[Path, Path], inputs: list[Path], serial: SegmentSummary, tmp_path: Path
) -> None:
    summary = segment_images(inputs, tiny_run[1], tmp_path, TILED, progress=False, workers=2)
    assert not summary.ok and str(inputs[1]) in summary.failures[0].message
    _assert_same_outputs(summary, serial)


def test_a_dask_cluster_writes_what_the_serial_run_writes(
    tiny_run: tuple[Path, Path],
    inputs: list[Path],
    serial: SegmentSummary,
    cluster: str,
    tmp_path: Path,
) -> None:
    from distributed import Client

    run = tiny_run[1]
    summary = segment_images(inputs, run, tmp_path, TILED, progress=False, scheduler=cluster)
    _assert_same_outputs(summary, serial)
    with Client(cluster) as client:  # each worker process keeps its loaded model for the next job
        loaded = client.run(lambda: [id(model) for model in scaleout._PROCESS_CACHE.values()])
        segment_images(inputs, run, tmp_path / "again", TILED, progress=False, scheduler=cluster)
        again = client.run(lambda: [id(model) for model in scaleout._PROCESS_CACHE.values()])
    assert any(loaded.values()) and again == loaded


def _table(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_analyze_on_a_cluster_matches_the_serial_analysis(
    tiny_run: tuple[Path, Path], inputs: list[Path], cluster: str, tmp_path: Path
) -> None:
    run = tiny_run[1]
    common = {"model": run, "options": TILED, "max_figures": 0, "progress": False}
    serial = analyze_images(inputs, tmp_path / "serial", **common)
    dask = analyze_images(inputs, tmp_path / "dask", **common, scheduler=cluster)
    assert [a.stem for a in dask.images] == [a.stem for a in serial.images]
    assert dask.failures == serial.failures and [p for p, _ in dask.failures] == [inputs[1]]
    for table in ("particles", "images"):
        assert _table(dask.files[table]) == _table(serial.files[table])
    assert dask.folder == serial.folder


def test_bad_settings_fail_before_any_work(tiny_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run = tiny_run
    with pytest.raises(ConfigError, match="--workers must be an integer >= 1, got 0"):
        segment_images([data / "images"], run, tmp_path / "out", workers=0)
    with pytest.raises(ConfigError, match="not both"):
        segment_images([data / "images"], run, tmp_path / "out", workers=2, scheduler="tcp://x:1")
    with pytest.raises(ConfigError, match="--workers must be"):
        analyze_images([data / "images"], tmp_path / "out", labels_dir=data / "masks", workers=-1)
    assert not (tmp_path / "out").exists()


def test_missing_dask_names_the_extra(
    tiny_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    assert not use_dask(1, None)  # the serial run needs no Dask
    with pytest.raises(ConfigError) as error:
        segment_images([tiny_run[0] / "images"], tiny_run[1], tmp_path / "out", workers=2)
    assert str(error.value) == DASK_MISSING
    assert DASK_MISSING == "--workers/--scheduler needs `pip install sagegan[dask]`"


def _unused_address() -> str:
    """A tcp address on this machine where nobody listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


@pytest.mark.parametrize("verb", ["segment", "analyze"])
def test_command_line_errors_are_one_line(
    verb: str,
    tiny_run: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scaleout, "CONNECT_TIMEOUT_S", 0.5)
    data, run = tiny_run
    image = sorted((data / "images").iterdir())[0]
    args = [verb, str(image), "--model", str(run), "--out", str(tmp_path / "out"), "--tile", "64"]
    address = _unused_address()
    expected = {
        "--workers=0": "--workers must be an integer >= 1, got 0",
        f"--scheduler={address}": f"cannot reach the Dask scheduler at {address}",
    }
    for option, message in expected.items():
        assert main([*args, option]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SystemExit) as parse_error:
        main([*args, "--workers", "x"])
    err = capsys.readouterr().err
    assert parse_error.value.code == 2 and "argument --workers: invalid int value: 'x'" in err
    assert len(err.strip().splitlines()) == 1


def test_each_process_makes_a_cached_value_once_per_key() -> None:
    made: list[str] = []

    def make(name: str) -> str:
        made.append(name)
        return name.upper()

    assert process_cached(("model", 1), lambda: make("a")) == "A"
    assert process_cached(("model", 1), lambda: make("b")) == "A"
    assert process_cached(("model", 2), lambda: make("c")) == "C"
    assert made == ["a", "c"]


def test_local_workers_share_the_cores_out() -> None:
    cores = threads_per_worker(1)
    assert cores >= 1
    assert threads_per_worker(2) == max(1, cores // 2)
    assert threads_per_worker(10**6) == 1
    assert use_dask(2, None) and use_dask(1, "tcp://127.0.0.1:1") and not use_dask(1, None)


@pytest.mark.parametrize("verb", ["segment", "analyze"])
def test_verbs_run_one_by_one_unless_told(verb: str) -> None:
    from sagegan.cli import build_parser

    parser = build_parser()
    plain = parser.parse_args([verb, "imgs", "--out", "o"])
    assert (plain.workers, plain.scheduler) == (1, None)
    scaled = parser.parse_args([verb, "imgs", "--out", "o", "--workers", "3", "--scheduler", "a"])
    assert (scaled.workers, scaled.scheduler) == (3, "a")


def test_a_local_cluster_leaves_this_process_environment_alone(
    inputs, tiny_run, tmp_path, monkeypatch
):
    """Dask sets OMP_NUM_THREADS=1 for its workers in os.environ; processes started later (a
    training child, a subprocess) must not inherit it."""
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    segment_images(inputs[:1], tiny_run[1], tmp_path, TILED, progress=False, workers=2)
    assert "OMP_NUM_THREADS" not in os.environ
