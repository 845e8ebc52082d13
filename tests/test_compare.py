"""The comparison protocol on tiny simulated data: run layout, shared split, nested subsets,
tables, resume and option errors."""

from __future__ import annotations

import csv
import json
import pickle

import numpy as np
import pytest
import torch

from sagegan.compare import METHODS, method_config, run_comparison
from sagegan.compare.methods import DEFAULT_METHODS
from sagegan.compare.reuse import pretraining_twin
from sagegan.compare.splits import subset_order
from sagegan.data.pairing import find_pairs
from sagegan.data.splits import Split, groups_from_pattern, load_split, save_split
from sagegan.errors import ConfigError, DataError
from sagegan.synth import SimulatorConfig, write_dataset
from sagegan.train import config_from_cli

QUIET = {"runtime.grid_every": 100, "runtime.attention_every": 100}
METHODS_RUN = ("unet", "sage_gan")
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    config = SimulatorConfig.preset("pdc", size=(64, 96))
    write_dataset(root, n=10, seed=0, config=config, progress=False)
    return root


@pytest.fixture(scope="module")
def comparison(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("comparison")
    result = run_comparison(
        data_dir,
        out,
        methods=METHODS_RUN,
        seeds=SEEDS,
        train_sizes=(2, "all"),
        preset="tiny",
        progress=False,
        overrides=QUIET,
    )
    return result


def _tiny_comparison(data_dir, out, **options):
    """A one-size (2 images) comparison with the tiny preset."""
    return run_comparison(
        data_dir, out, train_sizes=(2,), preset="tiny", progress=False, overrides=QUIET, **options
    )


def _read_csv(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_run_is_trained_and_tested(comparison):
    n_train = len(load_split(comparison.split_path).train)
    expected = {(m, n, s) for m in METHODS_RUN for n in (2, n_train) for s in SEEDS}
    assert {(r["method"], r["train_images"], r["seed"]) for r in comparison.runs} == expected
    for method, size, seed in expected:
        run_dir = comparison.out / "runs" / method / f"n{size}" / f"s{seed}"
        assert (run_dir / "best.json").is_file()
        assert (run_dir / "eval-test" / "metrics.json").is_file()
        config = json.loads((run_dir / "eval-test" / "metrics.json").read_text())
        assert config["split"] == "test"


def test_tables_hold_mean_and_sd_over_seeds(comparison):
    runs = _read_csv(comparison.files["runs_csv"])
    summary = _read_csv(comparison.files["csv"])
    assert len(runs) == 8 and len(summary) == 4
    for row in summary:
        seeds = [
            float(r["dice"])
            for r in runs
            if r["method"] == row["method"] and r["train_images"] == row["train_images"]
        ]
        assert int(row["n_seeds"]) == len(seeds) == 2
        assert float(row["dice_mean"]) == pytest.approx(np.mean(seeds))
        assert float(row["dice_sd"]) == pytest.approx(np.std(seeds, ddof=1))
        for column in ("f1@0.50", "mean_f1", "pq@0.50"):
            assert 0.0 <= float(row[f"{column}_mean"]) <= 1.0
    table = comparison.files["markdown"].read_text()
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(lines) == 5 and all(line.count("±") == 4 for line in lines[1:])
    assert {tuple(line.split(" | ")[:2]) for line in lines[1:]} == {
        (f"| {r['method']}", r["train_images"]) for r in summary
    }
    assert "2 seed(s)" in table and "Dice mean ± sd" in table
    document = json.loads(comparison.files["json"].read_text())
    assert len(document["runs"]) == 8 and set(document["methods"]) == set(METHODS_RUN)
    assert comparison.files["plot"].stat().st_size > 0


def test_test_images_are_shared_and_never_trained_on(comparison):
    split = load_split(comparison.split_path)
    for run in comparison.runs:
        run_dir = comparison.out / run["run"]
        evaluated = json.loads((run_dir / "eval-test" / "metrics.json").read_text())["stems"]
        assert sorted(evaluated) == sorted(split.test)
        read = json.loads((run_dir / "trained.json").read_text())["stems_read"]
        assert read and not set(read) & set(split.test)
        used = load_split(comparison.out / "splits" / f"n{run['train_images']}.json")
        assert not set(used.train + used.val) & set(split.test)
        assert set(read) == set(used.train + used.val)


def test_training_subsets_are_nested_with_fixed_val_and_test(comparison):
    split = load_split(comparison.split_path)
    small = load_split(comparison.out / "splits" / "n2.json")
    full = load_split(comparison.out / "splits" / f"n{len(split.train)}.json")
    assert len(small.train) == 2 and set(small.train) < set(full.train) == set(split.train)
    assert small.val == full.val == split.val and small.test == full.test == split.test


def test_rerun_with_resume_reuses_every_run(comparison, data_dir):
    watched = [
        path
        for run in comparison.runs
        for path in (
            comparison.out / run["run"] / "last.json",
            comparison.out / run["run"] / "eval-test" / "metrics.json",
        )
    ]
    before = [path.stat().st_mtime_ns for path in watched]
    again = run_comparison(
        data_dir,
        comparison.out,
        methods=METHODS_RUN,
        seeds=SEEDS,
        train_sizes=(2, "all"),
        preset="tiny",
        progress=False,
        overrides=QUIET,
    )
    assert [path.stat().st_mtime_ns for path in watched] == before
    assert again.runs == comparison.runs


def test_existing_runs_are_not_overwritten_without_resume(comparison, data_dir):
    with pytest.raises(ConfigError, match="already holds a training run"):
        _tiny_comparison(data_dir, comparison.out, methods=("unet",), seeds=(0,), resume=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"methods": ("unet", "segformer")}, "unknown method 'segformer' .*sage_gan_dice"),
        ({"train_sizes": (99,)}, "training size 99"),
        ({"train_sizes": (6, "all")}, "repeats 6"),
        ({"seeds": ()}, "seeds must be"),
        ({"workers": 0}, "workers must be a positive integer"),
    ],
)
def test_bad_options_are_config_errors(data_dir, tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        run_comparison(data_dir, tmp_path, preset="tiny", progress=False, **options)
    assert not (tmp_path / "runs").exists()


def test_methods_differ_only_in_their_definition():
    preset = config_from_cli("tiny")
    configs = {name: method_config(name, "tiny", seed=3) for name in METHODS}
    assert all(config.seed == 3 for config in configs.values())
    for config in configs.values():
        assert config.data == preset.data and config.pretrain.lr == preset.pretrain.lr
    for name in ("unet", "unet_plus_plus", "half_unet", "dc_unet", "attention_unet"):
        assert configs[name].model.segmenter == name and configs[name].gan.epochs == 0
        assert configs[name].pretrain.loss == preset.pretrain.loss
    cgan = configs["cgan_seg"]
    assert (cgan.model.segmenter, cgan.pretrain.loss) == ("unet", "ce_dice")
    assert cgan.pretrain.epochs == 0
    assert cgan.gan.epochs == preset.pretrain.epochs + preset.gan.epochs
    assert configs["sage_gan"].gan.epochs == preset.gan.epochs > 0
    assert configs["attention_unet_dice"].pretrain.loss == "dice"
    assert configs["sage_gan_dice"].pretrain.loss == "dice" and configs["sage_gan_dice"].gan.epochs


def test_paper_protocol_adds_its_columns_without_retraining(comparison, data_dir, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(comparison.out, out)
    weights_before = {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")}
    result = run_comparison(
        data_dir,
        out,
        methods=("unet",),
        seeds=SEEDS,
        train_sizes=(2, "all"),
        preset="tiny",
        progress=False,
        overrides=QUIET,
        paper_protocol=True,
    )
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")} == weights_before
    for row in result.runs:
        assert 0.0 <= row["paper_dice"] <= 1.0 and 0.0 <= row["paper_f1@0.50"] <= 1.0
        document = json.loads((out / row["run"] / "eval-test-paper" / "metrics.json").read_text())
        assert document["protocol"] == "paper"
    assert "F1@0.5 (paper protocol) mean ± sd" in result.files["markdown"].read_text()
    assert {"paper_dice_mean", "paper_dice_sd"} <= set(result.summary[0])


def test_runs_go_size_by_size_and_seed_by_seed(comparison):
    order = [(r["train_images"], r["seed"], r["method"]) for r in comparison.runs]
    assert order == sorted(order, key=lambda key: (key[0], key[1], METHODS_RUN.index(key[2])))


def test_finished_only_tabulates_without_training(comparison, data_dir, tmp_path):
    # one more seed is asked for but not trained: only the finished runs are tabulated
    partial = run_comparison(
        data_dir,
        comparison.out,
        methods=METHODS_RUN,
        seeds=(*SEEDS, 7),
        train_sizes=(2, "all"),
        preset="tiny",
        progress=False,
        overrides=QUIET,
        finished_only=True,
    )
    assert partial.runs == comparison.runs
    assert not (comparison.out / "runs" / "unet" / "n2" / "s7").exists()
    with pytest.raises(DataError, match="no finished run"):
        _tiny_comparison(
            data_dir, tmp_path / "empty", methods=("unet",), seeds=(0,), finished_only=True
        )


def test_stratified_subsets_take_the_samples_in_turn():
    stems = [f"large_{i}" for i in range(6)] + ["graphite_0", "graphite10_0", "ngc_0"]
    group_of = groups_from_pattern(stems, r"^([a-z]+\d*)_\d+$")
    for seed in range(5):
        order = subset_order(stems, seed, group_of)
        assert sorted(order) == sorted(stems)
        assert len({group_of[stem] for stem in order[:4]}) == 4  # one of each sample first
        assert order == subset_order(list(reversed(stems)), seed, group_of)  # names, not order
    plain = [subset_order(stems, seed)[:3] for seed in range(20)]
    assert any(all(stem.startswith("large") for stem in first) for first in plain)


def _grouped_unet_comparison(data_dir, out, split_file, pattern, **options):
    """A tiny one-run (unet, 2 images, seed 0) comparison whose samples ``pattern`` names."""
    return run_comparison(
        data_dir,
        out,
        methods=("unet",),
        seeds=(0,),
        train_sizes=(2,),
        preset="tiny",
        split_file=split_file,
        group_pattern=pattern,
        progress=False,
        **options,
    )


def test_grouped_comparison_writes_stratified_subsets(data_dir, tmp_path):
    split, split_file = _grouped_split(data_dir, tmp_path)
    pattern = "^(.*)$"  # every image its own sample: the subset is the first of each in turn
    out = tmp_path / "cmp"
    with pytest.raises(DataError, match="no finished run"):
        _grouped_unet_comparison(data_dir, out, split_file, pattern, finished_only=True)
    chosen = load_split(out / "splits" / "n2.json").train
    group_of = groups_from_pattern(split.train, pattern)
    assert chosen == sorted(subset_order(split.train, 0, group_of)[:2])


def test_sage_gan_reuses_its_twins_pretraining_with_the_same_result(data_dir, tmp_path):
    paired = _tiny_comparison(data_dir, tmp_path / "paired", methods=("attention_unet", "sage_gan"))
    alone = _tiny_comparison(data_dir, tmp_path / "alone", methods=("sage_gan",))
    twin = paired.out / "runs" / "attention_unet" / "n2" / "s0"
    reusing = paired.out / "runs" / "sage_gan" / "n2" / "s0"
    retrained = alone.out / "runs" / "sage_gan" / "n2" / "s0"
    assert json.loads((reusing / "pretraining.json").read_text())["donor"] == str(
        twin.relative_to(paired.out)
    )
    assert not (retrained / "pretraining.json").exists()
    stages = json.loads((reusing / "trained.json").read_text())["stages"]
    assert stages["pretrain"]["reused_from"] == "runs/attention_unet/n2/s0"
    assert stages["gan"]["last_epoch"] >= 0
    # the copied stage 1 is the twin's, and the run is the one that pretrains again (CPU)
    pretrained = json.loads((reusing / "best-pretrain.json").read_text())
    assert pretrained["checkpoint"] == json.loads((twin / "best.json").read_text())["checkpoint"]
    for run in (paired, alone):
        assert [r["method"] for r in run.runs][-1] == "sage_gan"
    reused_row = next(r for r in paired.runs if r["method"] == "sage_gan")
    for key in ("dice", "f1@0.50"):
        assert reused_row[key] == alone.runs[0][key]
    assert _log_lines(reusing) == _log_lines(retrained)


def _log_lines(run_dir):
    """The run log without its timings."""
    lines = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    for line in lines:
        line.pop("seconds", None)
    return lines


def test_pretraining_twins_are_the_methods_that_pretrain_alike():
    configs = {name: method_config(name, "tiny", 0) for name in METHODS}
    twin = {name: pretraining_twin(config, configs) for name, config in configs.items()}
    assert twin["sage_gan"] == "attention_unet"
    assert twin["sage_gan_dice"] == "attention_unet_dice"
    assert twin["cgan_seg"] is None  # no pretraining
    assert all(twin[name] is None for name in ("unet", "attention_unet", "dc_unet"))
    other_seed = {"attention_unet": method_config("attention_unet", "tiny", 1)}
    assert pretraining_twin(configs["sage_gan"], other_seed) is None


def test_workers_give_the_serial_result(data_dir, tmp_path):
    methods, seeds = ("attention_unet", "sage_gan"), (0, 1)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # as each of the two workers will have
        serial = _tiny_comparison(data_dir, tmp_path / "serial", methods=methods, seeds=seeds)
        torch.set_num_threads(2)
        parallel = _tiny_comparison(
            data_dir, tmp_path / "parallel", methods=methods, seeds=seeds, workers=2
        )
    finally:
        torch.set_num_threads(threads)
    assert parallel.runs == serial.runs
    for seed in seeds:  # each worker ran a seed's methods in order: SAGE-GAN copied its twin
        record = parallel.out / "runs" / "sage_gan" / "n2" / f"s{seed}" / "pretraining.json"
        assert json.loads(record.read_text())["donor"] == f"runs/attention_unet/n2/s{seed}"


def test_a_data_error_survives_the_trip_back_from_a_worker(tmp_path):
    error = pickle.loads(pickle.dumps(DataError(tmp_path / "a.tif", "corrupt image")))
    assert isinstance(error, DataError)
    assert (error.path, error.problem) == (tmp_path / "a.tif", "corrupt image")
    assert str(error) == f"{tmp_path / 'a.tif'}: corrupt image"


def test_classical_baseline_is_scored_without_training(data_dir, tmp_path):
    result = _tiny_comparison(data_dir, tmp_path, methods=("classical",), seeds=(0,))
    run_dir = tmp_path / "runs" / "classical" / "n2" / "s0"
    assert not (run_dir / "best.json").exists() and not (run_dir / "log.jsonl").exists()
    metrics = json.loads((run_dir / "eval-test" / "metrics.json").read_text())
    assert metrics["model"] is None and metrics["settings"]["predictor"] == "custom"
    assert sorted(metrics["stems"]) == sorted(load_split(result.split_path).test)
    # simulated SEM particles are bright on a darker support: Otsu finds most of them
    assert result.runs[0]["dice"] > 0.5
    assert "classical" in METHODS and "classical" not in DEFAULT_METHODS


def test_sage_gan_keeps_a_gan_stage_under_the_auto_preset():
    assert config_from_cli("auto").gan.epochs == 0
    assert method_config("sage_gan", "auto", seed=0).gan.epochs > 0
    assert method_config("attention_unet", "auto", seed=0).gan.epochs == 0


def _grouped_split(data_dir, tmp_path):
    """Train on synth_0000-0003, validate on 0004, test on 0005-0009."""
    stems = [pair.stem for pair in find_pairs(data_dir)]
    split = Split(train=stems[:4], val=stems[4:5], test=stems[5:], seed=0)
    split_file = tmp_path / "split.json"
    save_split(split, split_file)
    return split, split_file


def test_grouped_comparison_scores_each_sample(data_dir, tmp_path):
    split, split_file = _grouped_split(data_dir, tmp_path)
    result = run_comparison(
        data_dir,
        tmp_path / "cmp",
        methods=("classical",),
        seeds=(0,),
        train_sizes=(2,),
        preset="tiny",
        split_file=split_file,
        group_pattern=r"^synth_\d+([02468]|[13579])$",
        paper_protocol=True,
        progress=False,
    )
    rows = {row["sample"]: row for row in result.by_sample}
    per_image = {
        protocol: {
            row["name"]: row for row in _read_csv(result.out / run / folder / "per_image.csv")
        }
        for protocol, run, folder in [
            ("native", result.runs[0]["run"], "eval-test"),
            ("paper", result.runs[0]["run"], "eval-test-paper"),
        ]
    }
    last_digits = {stem[-1] for stem in split.test}
    assert set(rows) == last_digits and len(rows) == 5  # each test image its own digit here
    for digit, row in rows.items():
        (stem,) = [stem for stem in split.test if stem.endswith(digit)]
        assert row["images"] == 1 and row["n_seeds"] == 1
        assert row["dice_mean"] == pytest.approx(float(per_image["native"][stem]["dice"]))
        assert row["paper_f1@0.50_mean"] == pytest.approx(
            float(per_image["paper"][stem]["f1@0.50"])
        )
    # the samples' image-weighted mean is the whole split's per-image mean
    whole = result.summary[0]["dice_mean"]
    assert np.mean([row["dice_mean"] for row in rows.values()]) == pytest.approx(whole)
    table = result.files["markdown"].read_text()
    assert "Per sample" in table and f"| classical | 2 | {sorted(rows)[0]} | 1 | 1 |" in table
    assert len(_read_csv(result.files["sample_csv"])) == 5
    assert len(json.loads(result.files["json"].read_text())["by_sample"]) == 5


def test_a_test_image_outside_the_group_pattern_is_refused_before_training(data_dir, tmp_path):
    split, split_file = _grouped_split(data_dir, tmp_path)
    out = tmp_path / "cmp"
    with pytest.raises(ConfigError, match=f"does not match the stem '{split.test[0]}'"):
        # the pattern names the training stems only
        _grouped_unet_comparison(data_dir, out, split_file, r"^synth_000[0-4]$")
    assert not out.exists()
