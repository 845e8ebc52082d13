"""The auto preset's plan: fingerprints of datasets with known particles, the choices made from
them, the poly schedule, the time budget (re-planned from the loop's speed after the first epoch),
and plan.json across a resume."""

from __future__ import annotations

import itertools
import json
import time

import numpy as np
import pytest
import torch
import yaml

from conftest import Killed, dies_after_save, log_without_timings
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import find_pairs
from sagegan.data.separation import boundary_target
from sagegan.errors import ConfigError
from sagegan.models.checkpoint import load_weights, resolve_checkpoint
from sagegan.models.run_folder import PLAN_FILE
from sagegan.synth import write_dataset
from sagegan.train import planning, pretrain, replanning, step_timing
from sagegan.train.api import train
from sagegan.train.config import TrainConfig, config_from_cli
from sagegan.train.config_sections import PLANNED_KEYS
from sagegan.train.dataset_fingerprint import fingerprint
from sagegan.train.planning import STEP_MARGIN, make_plan
from sagegan.train.planning_rules import plan_shape, receptive_field
from sagegan.train.pretrain import poly_factor
from sagegan.train.stopping import BudgetClock


def _discs(radius: float, count: int, bright: bool, shape=(512, 512), seed=0):
    """An image ([-1, 1]) and labels holding ``count`` non-touching discs of ``radius``."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    placed = 0
    for _ in range(2000):
        if placed == count:
            break
        row, col = rng.uniform(radius, np.array(shape) - radius)
        disc = (yy - row) ** 2 + (xx - col) ** 2 <= radius**2
        grown = (yy - row) ** 2 + (xx - col) ** 2 <= (radius + 3) ** 2
        if labels[grown].any():
            continue
        placed += 1
        labels[disc] = placed
    image = np.where(labels > 0, 0.6, -0.6).astype(np.float32)
    return (image if bright else -image), labels


def _fingerprint(radius: float, bright_flags: list[bool], count: int = 6):
    pairs = [_discs(radius, count, bright, seed=i) for i, bright in enumerate(bright_flags)]
    return fingerprint([p[0] for p in pairs], [p[1] for p in pairs])


def test_fingerprint_measures_particle_size_and_contrast():
    fp = _fingerprint(10, [True, True, True])
    assert fp.diameter_px["median"] == pytest.approx(20, rel=0.05)
    assert fp.bright_share == 1.0 and not fp.mixed_polarity
    assert fp.median_shape == (512, 512) and fp.particles == 18
    assert _fingerprint(10, [False, False]).bright_share == 0.0
    assert _fingerprint(10, [True, False, True, False]).mixed_polarity


def test_receptive_field_grows_with_depth():
    assert [receptive_field(d) for d in (4, 5, 6)] == [140, 284, 572]


def test_depth_and_patch_follow_the_particle_size():
    depth, patch, _ = plan_shape(_fingerprint(8, [True]), "cpu")
    assert (depth, patch) == (4, 256)
    depth, patch, _ = plan_shape(_fingerprint(60, [True], count=3), "cpu")
    assert depth == 5 and receptive_field(depth) >= 240 and patch == 284 // 32 * 32
    depth, patch, _ = plan_shape(_fingerprint(100, [True], count=2), "cpu")
    assert depth == 6 and patch == 384  # the CPU cap
    assert plan_shape(_fingerprint(100, [True], count=2), "cuda")[1] == 512  # the image side


def test_inversion_only_when_the_training_set_mixes_contrasts():
    assert make_plan(_fingerprint(8, [True, False]), "cpu", 100).invert == 0.5
    assert make_plan(_fingerprint(8, [True, True]), "cpu", 100).invert == 0.0


def test_budget_sets_the_iterations_from_the_step_time():
    fp = _fingerprint(8, [True])
    plan = make_plan(fp, "cpu", 100, step_seconds=0.5, budget_seconds=600, validation_seconds=10)
    expected = (600 - 11 * 10) / (0.5 * STEP_MARGIN)
    assert plan.iterations == pytest.approx(expected, abs=plan.iterations_per_epoch)
    assert plan.iterations % plan.iterations_per_epoch == 0
    with pytest.raises(ConfigError, match="larger --budget"):
        make_plan(fp, "cpu", 100, step_seconds=2.0, budget_seconds=10)


def test_poly_schedule_warms_up_then_decays_to_zero():
    factor = poly_factor(total=100, warmup=10)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    values = [factor(step) for step in range(10, 101)]
    assert values[0] == pytest.approx(1.0) and values[-1] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(values))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, n=8, size=(64, 64), seed=0, progress=False)
    return root


def _auto(**overrides):
    small = {"model.segmenter_kwargs.base_width": 4, "runtime.progress": False}
    return config_from_cli("auto", None, {**small, **overrides})


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def _pretrain_epochs(run_dir):
    """The log records of stage 1's epochs (without the epoch -1 validation)."""
    return [r for r in _records(run_dir) if r["stage"] == "pretrain" and r["epoch"] >= 0]


def test_auto_run_writes_its_plan_and_follows_it(data_dir, tmp_path):
    run = tmp_path / "run"
    result = train(data_dir, run, _auto(**{"plan.iterations": 20}))
    document = json.loads((run / PLAN_FILE).read_text())
    assert document["overrides"]["data.patch_size"] == [64, 64]  # the images' side
    assert document["plan"]["iterations"] == 20
    pretrain = _pretrain_epochs(run)
    assert len(pretrain) == 10  # validated ten times
    assert pretrain[-1]["lr"]["segmenter"] == 0.0  # poly decay ends at zero
    assert set(result.stages) == {"pretrain"}  # no GAN stage by default
    # a resumed run reads its plan back instead of planning again
    (run / PLAN_FILE).write_text(json.dumps({**document, "plan": "not planned again"}))
    train(data_dir, run, None, resume=True)
    assert json.loads((run / PLAN_FILE).read_text())["plan"] == "not planned again"


def test_the_gan_stage_follows_pretrainings_plan_and_plan_keep_never_blocks_a_resume(
    data_dir, tmp_path
):
    run = tmp_path / "run"
    config = _auto(**{"plan.iterations": 4, "gan.epochs": 1, "instances.tune": False})
    train(data_dir, run, config, stage="pretrain")
    document = json.loads((run / PLAN_FILE).read_text())
    document["overrides"]["data.contact_weight"] = 3.0  # not what a new plan would choose
    (run / PLAN_FILE).write_text(json.dumps(document))
    train(data_dir, run, config, stage="gan")
    info = json.loads((resolve_checkpoint(run, "last") / "info.json").read_text())
    assert info["stage"] == "gan" and info["config"]["data"]["contact_weight"] == 3.0
    # plan.keep steers only a new plan: a later version pinning more keys still resumes
    pinned, changed = config.to_dict(), config.to_dict()
    pinned["plan"]["keep"] = ["data.scale"]
    train(data_dir, run, TrainConfig.from_dict(pinned), resume=True)
    changed["pretrain"]["lr"] = 0.5
    with pytest.raises(ConfigError, match=r"pretrain\.lr differs"):
        train(data_dir, run, TrainConfig.from_dict(changed), resume=True)


def test_budget_stops_stage_one_in_time(data_dir, tmp_path):
    run = tmp_path / "budget"
    budget_minutes = 0.25
    train(data_dir, run, _auto(**{"plan.budget_minutes": budget_minutes}))
    first, *records = [r for r in _records(run) if r["stage"] == "pretrain"]
    document = json.loads((run / PLAN_FILE).read_text())
    plan = document["plan"]
    assert plan["budget_seconds"] == 15.0 and plan["step_seconds"] > 0
    # the closing validation included: training stops early enough for it (within 15 %: the
    # clock predicts the next epoch from earlier ones, and on a busy 2-core machine an epoch of
    # this 15 s budget varies by about a second)
    spent = first["seconds"]["validation"] + sum(r["seconds"]["epoch"] for r in records)
    assert spent <= 1.15 * 15.0
    # either the planned (or re-planned) iterations ran or the budget stopped them, and said so
    epochs = document.get("replanned", {}).get("epochs", 10)
    assert len(records) == epochs or records[-1]["stopped"] == "time budget"


def _clock(budget, spent, reserve, pace=None):
    """A budget clock that has run ``spent`` seconds, its last validation ``reserve`` long."""
    return BudgetClock(
        budget, spent_before=spent, started=time.monotonic(), reserve=reserve, pace=pace
    )


def test_a_slow_first_epoch_cuts_the_stage_to_the_epochs_that_fit():
    # 88 s left after the first epoch's validation; 5 iterations at 2 s and a 2-s validation per
    # epoch: 7 more epochs fit
    found = replanning.refit(_clock(100, 10, 2), 10, 0, iterations_per_epoch=5, measured=(10.0, 5))
    assert (found.step_seconds, found.epochs, found.planned_epochs) == (2.0, 8, 10)
    assert found.record() == {
        "after_epoch": 0,
        "step_seconds": 2.0,
        "epochs": 8,
        "iterations": 40,
        "planned_iterations": 50,
    }
    assert found.message(1.5) == (
        "re-planned after epoch 0: the loop runs 2.00 s/iteration, not 1.50 s: "
        "40 iterations fit the budget instead of 50"
    )
    # a budget nearly spent by the first epoch ends the stage there; a loop faster than the plan
    # lengthens it to the epochs of 7 s that the 88 s left hold; a spent budget or none fits
    # nothing
    assert replanning.refit(_clock(100, 90, 2), 10, 0, 5, (10.0, 5)).epochs == 1
    longer = replanning.refit(_clock(100, 10, 2), 10, 0, 5, (5.0, 5))
    assert (longer.epochs, longer.planned_epochs) == (13, 10)
    assert longer.message(None).endswith("65 iterations fit the budget instead of 50")
    assert replanning.refit(_clock(100, 99, 2), 10, 0, 5, (10.0, 5)) is None
    assert replanning.refit(_clock(None, 10, 2), 10, 0, 5, (10.0, 5)) is None


def test_a_later_epoch_refits_only_when_the_loop_changed_pace():
    # fitted to 2 s/iteration; after epoch 3 (40 s spent, 2-s validations, 5 iterations an epoch)
    steady = _clock(100, 40, 2, pace=2.0)
    assert replanning.refit(steady, 10, 3, 5, measured=(31.2, 15)) is None  # 2.08 s: within 5 %
    # 1 s/iteration: 58 s left hold 8 more epochs of 7 s, past the planned 10
    faster = replanning.refit(steady, 10, 3, 5, measured=(15.0, 15))
    assert (faster.epochs, faster.epoch, faster.step_seconds) == (12, 3, 1.0)
    # 3 s/iteration: 58 s left hold 3 more epochs of 17 s
    assert replanning.refit(steady, 10, 3, 5, measured=(45.0, 15)).epochs == 7


def test_the_pace_is_measured_over_the_epochs_after_the_first():
    clock = _clock(100, 0, 2)
    assert replanning.measured_pace(clock, 0, 5, 20.0) == (20.0, 5)  # the first alone
    assert replanning.measured_pace(clock, 1, 5, 10.0) == (10.0, 5)  # then without it
    assert replanning.measured_pace(clock, 2, 5, 12.0) == (22.0, 10)
    assert clock.pace_record() == {"pace": None, "loop_seconds": 22.0, "loop_iterations": 10}


LOOP_SECONDS = 2.0  # the loop's measured speed in the re-planned runs (the plan counts 1 s)


def _replanned_config(patch):
    """An auto run with a 1-min budget planned at 1 s per step (and no data loading); its loop
    measures ``LOOP_SECONDS`` per iteration, so about half the planned iterations fit."""
    patch.setattr(step_timing, "native_bf16_cpu", lambda: False)
    _fake_steps(patch, {"fp32": 1.0})
    patch.setattr(planning, "data_seconds", lambda dataset, batch_size: 0.0)
    patch.setattr(replanning, "loop_step_seconds", lambda seconds, iterations: LOOP_SECONDS)
    return _auto(**{"plan.budget_minutes": 1.0})


@pytest.fixture(scope="module")
def replanned_run(data_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("replanned") / "run"
    with pytest.MonkeyPatch.context() as patch:
        result = train(data_dir, run, _replanned_config(patch))
    return run, result


def test_a_budget_run_replans_from_the_loop_speed_and_decays_over_the_new_total(replanned_run):
    run, result = replanned_run
    document = json.loads((run / PLAN_FILE).read_text())
    plan, replanned = document["plan"], document["replanned"]
    assert plan["iterations"] == 10 * plan["iterations_per_epoch"]  # 10 epochs planned
    epochs = replanned["epochs"]
    assert 1 < epochs < 10  # at 2 s per iteration about half of them fit the minute
    assert replanned["step_seconds"] == LOOP_SECONDS
    assert replanned["planned_iterations"] == plan["iterations"]
    assert replanned["iterations"] == epochs * plan["iterations_per_epoch"]
    records = _pretrain_epochs(run)
    assert records[0]["replanned"] == replanned
    assert not any("replanned" in r for r in records[1:])
    # the stage trains the re-planned epochs to their end, not stopped by the budget, and the
    # poly schedule decays to zero there
    assert [r["epoch"] for r in records] == list(range(epochs))
    assert not any("stopped" in r for r in records)
    assert not result.stages["pretrain"].stopped_early
    factor = poly_factor(replanned["iterations"], plan["warmup_iterations"])
    expected = [
        _auto().pretrain.lr * factor((epoch + 1) * plan["iterations_per_epoch"])
        for epoch in range(epochs)
    ]
    learning_rates = [r["lr"]["segmenter"] for r in records]
    assert learning_rates == pytest.approx(expected, rel=1e-12)  # from the first epoch's end
    assert learning_rates[-1] == 0.0 and min(learning_rates[:-1]) > 0.0


def test_a_loop_that_speeds_up_after_the_first_epoch_gets_the_epochs_the_budget_holds(
    data_dir, tmp_path
):
    paces = iter([LOOP_SECONDS])  # the first epoch runs slow, the later ones at the plan's 1 s
    with pytest.MonkeyPatch.context() as patch:
        config = _replanned_config(patch)
        patch.setattr(replanning, "loop_step_seconds", lambda seconds, its: next(paces, 1.0))
        train(data_dir, tmp_path / "run", config)
    document = json.loads((tmp_path / "run" / PLAN_FILE).read_text())
    plan = document["plan"]
    records = _pretrain_epochs(tmp_path / "run")
    cut, back = records[0]["replanned"], records[1]["replanned"]
    assert cut["epochs"] < 10 and cut["after_epoch"] == 0
    # at the plan's own 1 s a step, the budget holds more than the 10 epochs its margin planned
    assert (back["after_epoch"], back["step_seconds"]) == (1, 1.0) and back["epochs"] > 10
    assert document["replanned"] == back and not any("replanned" in r for r in records[2:])
    # every epoch fitted trains (a patience that spanned the plan spans them too), the schedule
    # decaying over the total in force at each step
    trained = back["epochs"]
    assert [r["epoch"] for r in records] == list(range(trained))
    per_epoch, warmup = plan["iterations_per_epoch"], plan["warmup_iterations"]
    short, full = (poly_factor(r["iterations"], warmup) for r in (cut, back))
    expected = [short(per_epoch)] + [full((epoch + 1) * per_epoch) for epoch in range(1, trained)]
    learning_rates = [r["lr"]["segmenter"] for r in records]
    assert learning_rates == pytest.approx([_auto().pretrain.lr * f for f in expected], rel=1e-12)
    assert learning_rates[-1] == 0.0


@pytest.mark.parametrize("save_index", [1, 3], ids=["at-the-replan", "after-the-replan"])
def test_a_replanned_run_resumes_with_its_new_total(
    data_dir, replanned_run, tmp_path, monkeypatch, save_index
):
    straight, _ = replanned_run
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        config = _replanned_config(patch)
        dies_after_save(patch, save_index)
        with pytest.raises(Killed):
            train(data_dir, run, config)
    with monkeypatch.context() as patch:  # at the same pace a resumed run re-plans nothing
        patch.setattr(replanning, "loop_step_seconds", lambda seconds, iterations: LOOP_SECONDS)
        patch.setattr(replanning, "_note", None)  # it would fail here
        train(data_dir, run, None, resume=True)
    assert log_without_timings(run) == log_without_timings(straight)
    expected, actual = (_last_segmenter(r) for r in (straight, run))
    assert expected.keys() == actual.keys()
    assert all(torch.equal(actual[key], value) for key, value in expected.items())
    plans = [json.loads((r / PLAN_FILE).read_text()) for r in (straight, run)]
    assert plans[0] == plans[1]


def _last_segmenter(run):
    return load_weights(resolve_checkpoint(run, "last") / "segmenter.safetensors")[0]


def test_a_run_without_a_budget_is_not_replanned(data_dir, tmp_path, monkeypatch):
    # a loop this slow would cut any budget run to one epoch
    monkeypatch.setattr(replanning, "loop_step_seconds", lambda seconds, iterations: 1e6)
    run = tmp_path / "iterations"
    train(data_dir, run, _auto(**{"plan.iterations": 10}))
    assert "replanned" not in json.loads((run / PLAN_FILE).read_text())
    records = _pretrain_epochs(run)
    assert len(records) == 10 and not any("replanned" in r for r in records)
    assert records[-1]["lr"]["segmenter"] == 0.0


def test_instance_head_only_when_particles_touch():
    apart = _fingerprint(8, [True, True])
    assert apart.touching_share == 0.0
    plan = make_plan(apart, "cpu", 100)
    assert (plan.boundary_px, plan.contact_weight) == (0, 1.0)
    labels = np.zeros((64, 64), np.int32)
    labels[10:30, 10:20], labels[10:30, 20:30] = 1, 2  # touching, as in a label map
    touching = fingerprint([np.where(labels > 0, 0.5, -0.5).astype(np.float32)], [labels])
    assert touching.touching_share == 1.0
    plan = make_plan(touching, "cpu", 100)
    assert plan.boundary_px == 2 and plan.contact_weight > 1  # 16-px particles: a 2-px band
    assert plan.overrides(2)["data.boundary_px"] == 2
    small = np.zeros((64, 64), np.int32)
    small[10:14, 10:14], small[10:14, 14:18] = 1, 2  # 4-px particles: a 1-px band
    tiny = fingerprint([np.where(small > 0, 0.5, -0.5).astype(np.float32)], [small])
    assert make_plan(tiny, "cpu", 100).boundary_px == 1


def test_masks_with_gaps_get_a_band_that_reaches_across_the_gap():
    labels = np.zeros((64, 64), np.int32)
    labels[10:14, 10:14], labels[10:14, 15:19] = 1, 2  # 4-px particles behind a 1-px gap
    gapped = fingerprint([np.where(labels > 0, 0.5, -0.5).astype(np.float32)], [labels])
    assert (gapped.touching_share, gapped.near_share) == (0.0, 1.0)
    plan = make_plan(gapped, "cpu", 100)
    assert plan.boundary_px == 2  # a 1-px band would mark nothing: no pixel touches the other
    assert boundary_target(labels, plan.boundary_px).sum() == 8  # the columns facing the gap
    assert not boundary_target(labels, 1).any()


def test_smallest_kept_object_follows_the_particle_sizes():
    large = make_plan(_fingerprint(10, [True]), "cpu", 100)  # about 314-px particles
    assert 150 <= large.min_size_px <= 160  # specks of large-particle data are dropped
    plan = make_plan(_fingerprint(2, [True], count=40), "cpu", 100)
    assert 3 <= plan.min_size_px < 10  # 13-px particles are kept
    assert plan.overrides(2)["instances.min_size_px"] == plan.min_size_px


def test_a_plan_sets_exactly_the_planned_keys():
    assert set(make_plan(_fingerprint(8, [True]), "cpu", 100).overrides(2)) == set(PLANNED_KEYS)


def test_settings_a_user_gives_are_kept_from_the_plan(tmp_path):
    config_file = tmp_path / "mine.yaml"
    config_file.write_text("data:\n  boundary_px: 0\nseed: 4\n")
    config = config_from_cli("auto", config_file, {"data.patch_size": [48, 48], "data.augment": {}})
    assert config.plan.keep == ["data.boundary_px", "data.patch_size"]
    # a section set to a non-mapping holds every planned key inside it
    assert config_from_cli("auto", None, {"data.augment": None}).plan.keep == [
        "data.augment.invert"
    ]
    assert config_from_cli("auto", None, {"seed": 1}).plan.keep == []


def test_a_kept_setting_wins_over_the_plan_and_the_plan_says_so(data_dir, tmp_path):
    run = tmp_path / "kept"
    kept = {"data.patch_size": [32, 32], "model.segmenter_kwargs.depth": 2}
    train(data_dir, run, _auto(**{"plan.iterations": 10, **kept}))
    document = json.loads((run / PLAN_FILE).read_text())
    assert "data.patch_size" not in document["overrides"]
    assert "model.segmenter_kwargs.depth" not in document["overrides"]
    recorded = document["plan"]  # what the run trains, not what was planned
    assert (recorded["patch_px"], recorded["depth"]) == (32, 2)
    assert recorded["receptive_field_px"] == receptive_field(2)
    assert "data.boundary_px" in document["overrides"]  # the rest of the plan still applies
    assert any("kept as configured" in reason for reason in document["plan"]["reasons"])
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["patch_size"] == [32, 32]


def test_plan_keep_naming_no_planned_key_is_refused():
    with pytest.raises(ConfigError, match=r"plan\.keep: 'data\.patch_sise' is not a key"):
        config_from_cli("auto", None, {"plan.keep": ["data.patch_sise"]})
    keep = config_from_cli("auto", None, {"plan.keep": ["model"]}).plan.keep  # a section
    assert keep == ["model"]


def _samples(data_dir):
    return [load_sample(pair) for pair in find_pairs(data_dir)]


def _fake_steps(monkeypatch, seconds):
    """Replace the step timing by ``seconds["bf16"]`` or ``seconds["fp32"]`` (any other
    ``runtime.amp``) and record the precisions timed."""
    calls = []

    def fake(*args, **kwargs):
        amp = args[6] if len(args) > 6 else kwargs.get("amp", "none")
        calls.append(amp)
        return seconds["bf16" if amp == "bf16" else "fp32"]

    monkeypatch.setattr(planning, "measure_step_seconds", fake)
    return calls


@pytest.mark.parametrize(
    ("native", "seconds", "amp", "reason"),
    [
        (True, {"fp32": 1.0, "bf16": 0.5}, "bf16", "measured 2.0x faster"),
        (True, {"fp32": 1.0, "bf16": 0.9}, "auto", "1.1x the float32 speed"),
        (False, {}, "auto", "no native bf16"),
    ],
)
def test_bf16_is_planned_on_a_cpu_only_where_it_measures_faster(
    data_dir, monkeypatch, native, seconds, amp, reason
):
    monkeypatch.setattr(step_timing, "native_bf16_cpu", lambda: native)
    calls = _fake_steps(monkeypatch, seconds)
    samples = _samples(data_dir)
    plan, overrides = planning.plan_run(_auto(), samples[:6], samples[6:], torch.device("cpu"))
    assert plan.amp == overrides["runtime.amp"] == amp
    assert any(reason in line for line in plan.reasons)
    assert len(calls) == (2 if native else 0)  # without native bf16 nothing is timed
    if amp == "bf16":
        assert "bf16 autocast" in plan.summary()


def test_a_run_trains_in_the_precision_its_plan_chose(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(step_timing, "native_bf16_cpu", lambda: True)
    _fake_steps(monkeypatch, {"fp32": 1.0, "bf16": 0.5})
    precisions = []
    original = pretrain.PretrainStage.train_step

    def spy(self, batch, step):
        precisions.append(step.runtime.amp_dtype)
        return original(self, batch, step)

    monkeypatch.setattr(pretrain.PretrainStage, "train_step", spy)
    run = tmp_path / "run"
    train(data_dir, run, _auto(**{"plan.iterations": 10}))
    assert json.loads((run / "plan.json").read_text())["plan"]["amp"] == "bf16"
    assert precisions and set(precisions) == {torch.bfloat16}


def test_a_precision_the_user_sets_is_neither_measured_nor_planned(data_dir, monkeypatch):
    monkeypatch.setattr(step_timing, "native_bf16_cpu", lambda: True)
    calls = _fake_steps(monkeypatch, {"fp32": 1.0, "bf16": 0.5})
    config = _auto(**{"runtime.amp": "none"})
    assert config.plan.keep == ["runtime.amp"]
    samples = _samples(data_dir)
    plan, overrides = planning.plan_run(config, samples[:6], samples[6:], torch.device("cpu"))
    assert "runtime.amp" not in overrides and calls == []
    assert "kept as configured (plan.keep): runtime.amp" in plan.reasons
    # with a budget the step is timed once, at the kept precision (float32)
    budget = _auto(**{"runtime.amp": "none", "plan.budget_minutes": 5})
    planning.plan_run(budget, samples[:6], samples[6:], torch.device("cpu"))
    assert calls == ["none"]
    kept_bf16 = _auto(**{"runtime.amp": "bf16", "plan.budget_minutes": 5})
    planning.plan_run(kept_bf16, samples[:6], samples[6:], torch.device("cpu"))
    assert calls == ["none", "bf16"]


def test_a_budget_times_the_step_in_the_precision_the_run_trains_in(data_dir, monkeypatch):
    # "auto" is passed on to the trainer's own resolution (float32 on a CPU, bf16 or fp16 on a
    # GPU), not timed as float32 whatever the device
    monkeypatch.setattr(step_timing, "native_bf16_cpu", lambda: False)
    calls = _fake_steps(monkeypatch, {"fp32": 1.0})
    samples = _samples(data_dir)
    budget = _auto(**{"plan.budget_minutes": 5})
    planning.plan_run(budget, samples[:6], samples[6:], torch.device("cpu"))
    assert calls == ["auto"]
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        step_timing.measure_step_seconds(
            "attention_unet",
            {"base_width": 4, "depth": 2},
            "bce_focal_tversky",
            32,
            1,
            torch.device("cpu"),
            "fp16",
        )


def test_a_training_step_is_timed_under_bf16_autocast():
    kwargs = {"base_width": 4, "depth": 2}
    for amp in ("none", "bf16"):
        seconds = step_timing.measure_step_seconds(
            "attention_unet", kwargs, "bce_focal_tversky", 32, 1, torch.device("cpu"), amp
        )
        assert 0 < seconds < 10
