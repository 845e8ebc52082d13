"""The GAN stage's realism gate, the moving average of G and the realism measured per epoch."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import killed_then_resumed, log_without_timings, same_weights, tiny_gan_stage
from sagegan.errors import ConfigError
from sagegan.generate.pairs import load_generator
from sagegan.metrics.kid import realism_scores
from sagegan.synth import write_dataset
from sagegan.train import gan_stage
from sagegan.train.api import train
from sagegan.train.config import GanConfig, config_from_cli
from sagegan.train.gan_plan import mix_probability, plan_step
from sagegan.train.gan_realism import CROP_PX, CROPS, RealismProbe, validation_crops
from sagegan.train.gan_stage import GanStage
from sagegan.train.training_stage import Step, StepBatch


def test_gate_keeps_online_augmentation_off_until_it_opens_then_ramps():
    config = GanConfig(
        generator_warmup_epochs=1, mix_ramp_epochs=2, mix_max=0.6, realism_gate_kid=0.01
    )
    assert [mix_probability(config, epoch, None) for epoch in range(6)] == [0.0] * 6
    opened_late = [mix_probability(config, epoch, 3) for epoch in range(6)]
    assert opened_late == pytest.approx([0.0, 0.0, 0.0, 0.3, 0.6, 0.6])
    opened_in_warmup = [mix_probability(config, epoch, 0) for epoch in range(4)]
    assert opened_in_warmup == pytest.approx([0.0, 0.3, 0.6, 0.6])  # still waits for the warm-up


class ScriptedProbe:
    """Stands in for the realism probe: returns the given KID values in turn."""

    def __init__(self, kids: list[float]) -> None:
        self.kids = list(kids)

    def measure(self, generator: torch.nn.Module) -> dict[str, float]:
        return {"kid": self.kids.pop(0), "kid_std": 0.0}


def _stage(**gan: object) -> tuple[GanStage, StepBatch]:
    """The tiny GAN stage of `tiny_gan_stage` with these ``gan.*`` settings."""
    return tiny_gan_stage(**{f"gan.{key}": value for key, value in gan.items()})


def test_end_epoch_opens_the_gate_the_epoch_after_kid_passes_its_threshold(monkeypatch):
    probe = ScriptedProbe([0.3, 0.2, 0.05, 0.4])
    monkeypatch.setattr(gan_stage, "RealismProbe", lambda samples, device, seed: probe)
    gate = {"realism_every": 1, "realism_gate_kid": 0.1}
    stage, _ = _stage(generator_warmup_epochs=0, mix_ramp_epochs=1, mix_max=1.0, **gate)
    extras = []
    for epoch in range(4):
        stage.start_epoch(epoch)
        stage.end_epoch(epoch)
        extras.append(stage.epoch_extras(epoch))
    assert stage.gate_opened == 3  # the KID of epoch 2 passed; a worse one later keeps it open
    assert [e["online_augmentation"] for e in extras] == [False, False, False, True]
    assert [e["realism"]["kid"] for e in extras] == [0.3, 0.2, 0.05, 0.4]
    closed = [
        plan_step(stage.config.gan, 2, 2, stage.sources, np.random.default_rng(i), None).augment
        for i in range(20)
    ]
    assert not any(closed)
    restored, _ = _stage(**gate)
    restored.load_state_dict(stage.state_dict())
    assert restored.gate_opened == 3


def test_moving_average_of_g_follows_each_generator_step():
    stage, batch = _stage(generator_ema=0.9, generator_warmup_epochs=0, mix_max=0.0)
    assert "generator_ema" in stage.nets and stage.specs["generator_ema"]["model"]
    live, average = stage.nets["generator"], stage.nets["generator_ema"]
    before_live = [p.detach().clone() for p in live.parameters()]
    before_average = [p.detach().clone() for p in average.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before_live, before_average, strict=True))
    stage.start_epoch(0)
    step = Step(0, 0, batch.stems, stage.runtime, _Guard())
    for optimizer in stage.optimizers.values():
        optimizer.zero_grad()
    assert stage.train_step(batch, step) is not None
    moved = False
    decay = 1 / 10  # the first step's warmed-up decay, min(0.9, (1 + 0) / (10 + 0))
    for old, new, ema in zip(before_live, live.parameters(), average.parameters(), strict=True):
        assert torch.allclose(ema, decay * old + (1 - decay) * new.detach(), atol=1e-6)
        moved |= not torch.equal(ema, old)
    assert moved and stage.state_dict()["ema_steps"] == 1
    assert "generator_ema" not in _stage()[0].nets


def test_the_realism_probe_draws_nothing_from_the_training_random_stream(monkeypatch):
    _stage(realism_every=0)
    without_probe = torch.get_rng_state()
    monkeypatch.setattr(gan_stage, "RealismProbe", _loading_probe)
    stage, _ = _stage(realism_every=1)
    assert isinstance(stage.probe, torch.nn.Conv2d)  # built, and the stream is as without it
    assert torch.equal(torch.get_rng_state(), without_probe)


def _loading_probe(samples: object, device: torch.device, seed: int) -> object:
    """A probe that builds a randomly initialised network, as loading the builtin model does."""
    return torch.nn.Conv2d(1, 8, 3)


class _Guard:
    def check(self, losses: dict[str, float], stems: list[str], where: str) -> bool:
        return True


class Sample:
    """The image and labels of a validation sample, all the probe reads."""

    def __init__(self, image: np.ndarray, labels: np.ndarray) -> None:
        self.image, self.labels = image, labels


def test_validation_crops_are_aligned_and_fixed_by_the_seed():
    image = np.linspace(-1, 1, 40 * 50, dtype=np.float32).reshape(40, 50)
    labels = (image > 0).astype(np.int32)
    images, masks = validation_crops([Sample(image, labels)], 32, 5, seed=3)
    again, _ = validation_crops([Sample(image, labels)], 32, 5, seed=3)
    assert images.shape == masks.shape == (5, 32, 32)
    assert np.array_equal(images, again)
    assert np.array_equal(masks, (images > 0).astype(np.float32))  # the same window of both
    small, _ = validation_crops([Sample(image[:20, :20], labels[:20, :20])], 32, 2, seed=0)
    assert small.shape == (2, 32, 32)  # reflect-padded


class _PaintingGenerator(torch.nn.Module):
    """A stand-in G: the mask shifted by ``offset`` plus its noise; keeps what it painted."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self.offset, self.painted = offset, []

    def sample_z(self, batch: int, device: str, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(batch, 4, generator=generator)

    def make_noise(
        self, batch: int, size: tuple[int, int], device: str, generator: torch.Generator
    ) -> list[torch.Tensor]:
        return [torch.randn(batch, 1, *size, generator=generator)]

    def forward(self, masks: torch.Tensor, z: torch.Tensor, noise: list[torch.Tensor]):
        self.painted.append(masks + self.offset + 0.3 * noise[0])
        return self.painted[-1]


def test_the_probe_scores_as_realism_scores_of_its_crops_with_the_real_side_drawn_once():
    rng = np.random.default_rng(0)
    images = [rng.uniform(-1, 1, (150, 140)).astype(np.float32) for _ in range(3)]
    samples = [Sample(image, (image > 0.3).astype(np.int32)) for image in images]
    probe = RealismProbe(samples, torch.device("cpu"), seed=5)
    real, _ = validation_crops(samples, CROP_PX, CROPS, seed=5)
    for offset in (-0.5, 0.2):  # two generators against one reference
        generator = _PaintingGenerator(offset)
        scores = probe.measure(generator)
        fake = np.clip(torch.cat(generator.painted)[:, 0].numpy(), -1.0, 1.0)
        expected = realism_scores(
            list(real), list(fake), probe.reference.extractor, CROP_PX, CROPS, seed=5
        )
        assert scores == expected


def test_realism_gate_settings_are_checked():
    with pytest.raises(ConfigError, match=r"gan\.realism_gate_kid"):
        config_from_cli("tiny", None, {"gan.realism_gate_kid": 0.05})  # tiny measures nothing
    with pytest.raises(ConfigError, match=r"gan\.generator_ema"):
        config_from_cli("tiny", None, {"gan.generator_ema": 1.0})
    with pytest.raises(ConfigError, match=r"gan\.realism_gate_kid"):
        config_from_cli("tiny", None, {"gan.realism_every": 1, "gan.realism_gate_kid": -1.0})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_dataset(root, n=8, size=(64, 64), seed=0, progress=False)
    return root


def test_a_run_logs_realism_per_gan_epoch_and_saves_the_moving_average(data_dir, tmp_path):
    overrides = {
        "runtime.grid_every": 100,
        "runtime.attention_every": 100,
        "gan.realism_every": 1,
        "gan.realism_gate_kid": 1e-12,  # never reached: online augmentation stays off
        "gan.generator_ema": 0.5,
    }
    run = tmp_path / "run"
    train(data_dir, run, config_from_cli("tiny", None, overrides))
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    gan = [r for r in records if r["stage"] == "gan" and r["epoch"] >= 0]
    assert len(gan) == 2
    for record in gan:
        assert {"kid", "kid_std", "intensity_w1", "spectrum_log_l2"} <= set(record["realism"])
        assert np.isfinite(record["realism"]["kid"])
        assert record["online_augmentation"] is False
        assert record["losses"]["augmented"] == 0.0
    _, weights = load_generator(run, which="last")
    assert weights.name.startswith("generator_ema")


def test_a_run_with_realism_gate_and_average_resumes_exactly(data_dir, tmp_path, monkeypatch):
    overrides = {
        "runtime.grid_every": 100,
        "runtime.attention_every": 100,
        "instances.tune": False,
        "gan.epochs": 3,
        "gan.realism_every": 1,
        "gan.realism_gate_kid": 10.0,  # opens after the first measurement
        "gan.generator_ema": 0.9,
    }
    straight = tmp_path / "straight"
    train(data_dir, straight, config_from_cli("tiny", None, overrides))
    resumed = tmp_path / "resumed"
    # killed after the first GAN epoch (the tiny preset pretrains 2)
    killed_then_resumed(monkeypatch, data_dir, resumed, config_from_cli("tiny", None, overrides), 3)
    logs = [log_without_timings(run) for run in (straight, resumed)]
    assert logs[0] == logs[1]
    gan = [r for r in logs[0] if r["stage"] == "gan" and r["epoch"] >= 0]
    assert [r["online_augmentation"] for r in gan] == [False, True, True]
    assert same_weights(straight, resumed, ("generator", "generator_ema", "segmenter"))
