"""benchmarks/gan_ablation.py: the arms' configs, the paired summary and the verdict."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from conftest import benchmark_script

PLAN = {
    "data.patch_size": [320, 320],
    "data.samples_per_epoch": 120,
    "data.augment.invert": 0.0,
    "data.boundary_px": 1,
    "instances.min_size_px": 7,
    "model.segmenter_kwargs.depth": 5,
    "pretrain.epochs": 10,
}


@pytest.fixture(scope="module")
def ablation() -> ModuleType:
    """The script (it imports real_data, its sibling)."""
    return benchmark_script("gan_ablation")


def _job(ablation: ModuleType, tmp_path: Path, **overrides) -> object:
    values = {
        "dataset": "tio2_sem",
        "data_dir": tmp_path / "data",
        "out": tmp_path / "out",
        "split_path": tmp_path / "n5.json",
        "masks_dir": tmp_path / "masks",
        "seed": 1,
        "arms": ablation.ARMS,
        "stage1_iterations": 600,
        "stage2_epochs": 10,
        "bank_size": 200,
        "device": "cpu",
    }
    return ablation.Job(**{**values, **overrides})


def test_continuation_trains_s_as_the_gan_stage_does(ablation, tmp_path):
    job = _job(
        ablation, tmp_path, overrides={"data.samples_per_epoch": 4, "gan.lr_segmenter": 3e-5}
    )
    gan = ablation.gan_config(job)
    config = ablation.continuation_config(job, PLAN, tmp_path / "bank")
    assert (gan.gan.epochs, gan.gan.generator_ema, gan.pretrain.epochs > 0) == (10, 0.999, True)
    assert not config.plan.enabled and config.gan.epochs == 0
    assert config.model.init == str(job.stage1_dir.resolve())
    assert config.data.bank == str((tmp_path / "bank").resolve())
    assert (config.pretrain.epochs, config.pretrain.patience) == (10, 10)
    assert (config.pretrain.lr, config.pretrain.schedule) == (3e-5, "plateau")
    assert config.pretrain.batch_size == gan.gan.batch_size
    assert config.data.samples_per_epoch == 120  # the planned epoch, not --set's
    assert tuple(config.data.patch_size) == (320, 320) and config.instances.min_size_px == 7


def test_builtin_gets_stage_1_and_stage_2_updates(ablation, tmp_path):
    config = ablation.builtin_config(_job(ablation, tmp_path), PLAN)
    assert config.model.init == "builtin" and config.plan.enabled
    assert config.plan.iterations == 600 + 10 * 60


def _result(seed: int, scores: dict[str, float]) -> dict:
    arms = {}
    for arm, dice in scores.items():
        arms[arm] = {
            "dice": dice,
            "f1@0.50": dice - 0.1,
            "paper_dice": dice,
            "paper_f1@0.50": dice,
            "compute_minutes": 2.0,
        }
    arms["gan_bank"]["bank"] = {"realism": {"kid": 0.02}}
    return {"dataset": "tio2_sem", "seed": seed, "arms": arms}


def test_summary_pairs_the_seeds_and_judges_the_target(ablation):
    results = [
        _result(0, {"none": 0.70, "gan_online": 0.71, "gan_bank": 0.74}),
        _result(1, {"none": 0.60, "gan_online": 0.58, "gan_bank": 0.64}),
    ]
    rows = {row["arm"]: row for row in ablation.summarize(results, ablation.ARMS)}
    assert set(rows) == {"none", "gan_online", "gan_bank"}
    delta = rows["gan_bank"]["delta_dice"]
    assert delta["mean"] == pytest.approx(0.04)
    assert delta["seeds"] == pytest.approx({"s0": 0.04, "s1": 0.04})
    assert rows["gan_bank"]["bank_kid_mean"] == pytest.approx(0.02)
    assert rows["gan_online"]["bank_kid_mean"] is None
    verdict = ablation.verdict("tio2_sem", list(rows.values()))
    assert "MET by gan_bank" in verdict and "gan_online -0.005" in verdict
    table = ablation.markdown("tio2_sem", list(rows.values()))
    assert "| gan_bank | 2 |" in table and "+0.040 ± 0.000 (+0.040, +0.040)" in table
