"""Validation scores count objects the way `sagegan evaluate` does."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from conftest import FixedLogits, touching_discs
from sagegan.models.attention_unet import AttentionUNet
from sagegan.train.runtime import Runtime
from sagegan.train.validation import validate


def test_touching_particles_are_two_objects_in_validation():
    truth = touching_discs(radius=10, spacing=20)
    assert np.unique(truth).tolist() == [0, 1, 2]
    logits = np.where(truth > 0, 8.0, -8.0).astype(np.float32)  # a perfect prediction
    sample = SimpleNamespace(image=np.zeros(truth.shape, np.float32), labels=truth)
    runtime = Runtime(device=torch.device("cpu"), amp_dtype=None)

    scores = validate(FixedLogits(logits), [sample], runtime)

    assert scores["dice"] == 1.0
    # a connected-component count would see one merged blob and score F1 = 0
    assert scores["f1@0.5"] == 1.0


def test_validation_leaves_the_training_module_as_it_was_and_matches_eager_nchw():
    torch.manual_seed(0)
    model = AttentionUNet(base_width=4, depth=2).train()
    truth = touching_discs(radius=10, spacing=20)
    image = np.random.default_rng(0).uniform(-1, 1, truth.shape).astype(np.float32)
    sample = SimpleNamespace(image=image, labels=truth)
    runtime = Runtime(device=torch.device("cpu"), amp_dtype=None)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}

    scores = validate(model, [sample], runtime)

    assert model.training
    for name, p in model.named_parameters():
        assert p.is_contiguous(), f"{name} changed its memory layout"
        assert torch.equal(p, before[name])
    eager = FixedLogits(model.eval()(torch.from_numpy(image)[None, None]).logits[0, 0].detach())
    assert scores == validate(eager, [sample], runtime)
