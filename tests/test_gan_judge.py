"""The frozen judge of online augmentation's generated pairs (``gan.judge_min_dice``)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from conftest import killed_then_resumed, same_weights, tiny_gan_stage
from sagegan.errors import ConfigError
from sagegan.models.checkpoint import load_weights, resolve_checkpoint
from sagegan.synth import write_dataset
from sagegan.train import gan_stage
from sagegan.train.api import train
from sagegan.train.config import config_from_cli
from sagegan.train.gan_judge import PairJudge
from sagegan.train.gan_plan import StepPlan
from sagegan.train.gan_random import GanRandomSources

SEGMENTER_FILE = "segmenter.safetensors"


class Threshold(nn.Module):
    """Reads bright pixels as particles: foreground logit = 10 x the image."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(10.0))

    def forward(self, images: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(foreground=self.scale * images)


def _square(size: int = 16) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., 4:12, 4:12] = 1.0
    return mask


def test_pairs_whose_drawing_does_not_show_their_mask_are_rejected():
    mask = _square()
    targets = torch.cat([mask, mask, mask])
    faithful = mask * 2 - 1  # bright exactly where the mask is
    empty = -torch.ones_like(mask)  # the particle is not drawn
    shifted = torch.roll(faithful, shifts=4, dims=-1)  # half of it drawn beside the mask
    images = torch.cat([faithful, empty, shifted])
    valid = torch.ones_like(targets) * 2.0  # loss weights, kept as they are for kept pairs
    judge = PairJudge(Threshold(), min_dice=0.6)
    assert judge.dice(images, targets, valid).tolist() == pytest.approx([1.0, 0.0, 0.5])
    assert judge.keep(images, targets, valid).tolist() == [True, False, False]


def test_pixels_without_a_loss_weight_are_not_judged():
    mask = _square()
    drawing = -torch.ones_like(mask)
    drawing[..., :4, :] = 1.0  # something bright outside the mask, where nothing counts
    valid = torch.zeros_like(mask)
    valid[..., 4:, :] = 1.0
    judge = PairJudge(Threshold(), min_dice=0.5)
    assert judge.dice(drawing, mask, valid).item() == 0.0  # the particle is missed
    assert judge.dice(mask * 2 - 1 + drawing.clamp(min=0) * 2, mask, valid).item() == 1.0


def test_the_judge_is_a_frozen_copy_of_the_starting_segmenter():
    segmenter = Threshold()
    judge = PairJudge(segmenter, min_dice=0.5)
    with torch.no_grad():
        segmenter.scale.fill_(-10.0)  # the segmenter trains on; the judge does not follow
    assert judge.segmenter.scale.item() == 10.0
    assert not judge.segmenter.scale.requires_grad and not judge.segmenter.training


def _seeded() -> GanRandomSources:
    return GanRandomSources(
        np.random.default_rng(1), np.random.default_rng(1), torch.Generator().manual_seed(1)
    )


def test_only_the_pairs_the_judge_keeps_reach_the_segmenter(monkeypatch):
    plan = StepPlan(warmup=False, augment=True, sources=["real", "rearranged"])
    stage, batch = tiny_gan_stage(**{"gan.judge_min_dice": 0.5})
    seen = []  # the batch sizes S is given
    segmenter = stage.nets["segmenter"]
    monkeypatch.setattr(segmenter, "forward", _recording(segmenter.forward, seen))
    for verdict, rejected in (([True, True], 0.0), ([False, True], 1.0), ([False, False], 2.0)):
        monkeypatch.setattr(stage.judge, "keep", lambda *args, v=verdict: torch.tensor(v))
        seen.clear()
        passed = stage.generator_losses(batch, plan, _seeded())
        assert passed.stats == {"generated_pairs": 2.0, "judge_rejected": rejected}
        kept = int(2 - rejected)
        assert seen == [2, max(kept, 1)]  # the real batch, then the kept pairs (one, unweighted)
        assert (passed.terms["rec_mask"].item() == 0.0) == (kept == 0)


def _recording(forward, seen):
    def recorded(images, *args, **kwargs):
        seen.append(len(images))
        return forward(images, *args, **kwargs)

    return recorded


def test_the_judge_needs_a_trained_segmenter_to_copy():
    with pytest.raises(ConfigError, match=r"gan\.judge_min_dice needs a trained segmenter"):
        config_from_cli("tiny", None, {"gan.judge_min_dice": 0.5, "pretrain.epochs": 0})


def test_the_judge_setting_is_checked():
    with pytest.raises(ConfigError, match=r"gan\.judge_min_dice"):
        config_from_cli("tiny", None, {"gan.judge_min_dice": 1.5})


def test_a_run_with_a_judge_logs_its_rejections_and_resumes_exactly(tmp_path, monkeypatch):
    judged_by = []  # the weights of every judge built

    class RecordingJudge(PairJudge):
        def __init__(self, segmenter: nn.Module, min_dice: float) -> None:
            super().__init__(segmenter, min_dice)
            judged_by.append({k: v.clone() for k, v in segmenter.state_dict().items()})

    monkeypatch.setattr(gan_stage, "PairJudge", RecordingJudge)
    data = write_dataset(tmp_path / "data", n=8, size=(64, 64), seed=0, progress=False)
    overrides = {
        "runtime.grid_every": 100,
        "runtime.attention_every": 100,
        "instances.tune": False,
        "gan.epochs": 3,
        "gan.judge_min_dice": 0.3,
    }
    straight = tmp_path / "straight"
    train(data, straight, config_from_cli("tiny", None, overrides))
    resumed = tmp_path / "resumed"
    # killed after the first GAN epoch (the tiny preset pretrains 2)
    killed_then_resumed(monkeypatch, data, resumed, config_from_cli("tiny", None, overrides), 3)
    # every judge, the resumed run's too, is the segmenter pretraining chose
    pretrained, _ = load_weights(resolve_checkpoint(resumed, "best-pretrain") / SEGMENTER_FILE)
    assert len(judged_by) == 3
    for weights in judged_by:
        assert all(torch.equal(weights[key], pretrained[key]) for key in weights)
    records = [json.loads(line) for line in (straight / "log.jsonl").read_text().splitlines()]
    losses = [r["losses"] for r in records if r["stage"] == "gan" and r["epoch"] >= 0]
    assert all(0 <= loss["judge_rejected"] <= loss["generated_pairs"] for loss in losses)
    assert any(loss["generated_pairs"] > 0 for loss in losses)
    assert same_weights(straight, resumed, ("generator", "segmenter"))
