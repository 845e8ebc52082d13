"""benchmarks/ensembles.py: ensembles of finished benchmark runs against their members."""

from __future__ import annotations

from conftest import benchmark_script
from sagegan.evaluate.run import evaluate_run
from sagegan.synth import write_dataset
from sagegan.train import config_from_cli, train


def test_an_ensemble_of_benchmark_runs_is_composed_scored_and_read_back(tmp_path):
    script = benchmark_script("ensembles")
    data = write_dataset(tmp_path / "data", n=6, size=(64, 64), seed=0, progress=False)
    runs = tmp_path / "runs"
    for seed in (0, 1):  # as real_data.py lays them out: one split, a folder per seed
        config = config_from_cli(
            "tiny", None, {"seed": seed, "gan.epochs": 0, "runtime.progress": False}
        )
        split = runs / "s0" / "split.json" if seed else None
        train(data, runs / f"s{seed}", config, split_path=split)
        evaluate_run(runs / f"s{seed}", data, out=runs / f"s{seed}" / "eval-test", progress=False)
        (runs / f"s{seed}" / "trained.json").write_text("{}")  # compare's end-of-run record
    row = script.score_group(runs, [0, 1], data, tmp_path / "ens")
    assert set(row["ensemble"]) == set(script.METRICS) and len(row["members"]) == 2
    assert all(minutes > 0 for minutes in row["member_minutes"])
    record = tmp_path / "ens" / "s0_s1" / "ensemble.json"
    written = record.stat().st_mtime_ns
    assert script.score_group(runs, [0, 1], data, tmp_path / "ens") == row  # read back
    assert record.stat().st_mtime_ns == written
    table = script.markdown([row])
    assert "| 0,1 |" in table and "F1@0.5: ensembles" in table
