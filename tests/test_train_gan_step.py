"""One GAN step: which loss terms reach the segmenter, mixing schedule and the BatchNorm guard."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import GAN_SIZE, tiny_gan_stage
from sagegan.data.separation import training_targets
from sagegan.train.batchnorm_guard import guarded_batchnorm
from sagegan.train.config import GanConfig
from sagegan.train.gan_plan import StepPlan, mix_probability
from sagegan.train.gan_random import GanRandomSources, generator_inputs
from sagegan.train.gan_stage import GanStage, cycle_mask
from sagegan.train.guards import CollapseDetector, NonFiniteGuard
from sagegan.train.training_stage import Step, StepBatch


def _objective(mask_mode: str) -> tuple[GanStage, StepBatch]:
    """The tiny GAN stage of `tiny_gan_stage` with this mask mode and DiffAugment always on."""
    return tiny_gan_stage(**{"gan.mask_mode": mask_mode, "gan.diffaugment_p": 1.0})


def _segmenter_gradient(objective: GanStage, term: torch.Tensor) -> float:
    """Total absolute gradient of one loss term over the segmenter's parameters."""
    parameters = list(objective.nets["segmenter"].parameters())
    if not term.requires_grad:
        return 0.0
    grads = torch.autograd.grad(term, parameters, retain_graph=True, allow_unused=True)
    return float(sum(g.abs().sum() for g in grads if g is not None))


def _terms(mask_mode: str, plan: StepPlan) -> tuple[GanStage, dict[str, torch.Tensor]]:
    objective, batch = _objective(mask_mode)
    random = GanRandomSources(
        np.random.default_rng(1), np.random.default_rng(1), torch.Generator().manual_seed(1)
    )
    passed = objective.generator_losses(batch, plan, random)
    return objective, passed.terms


PLAIN = StepPlan(warmup=False, augment=False, sources=[])
CYCLE_TERMS = ("adv_mask", "rec_img_l1", "rec_img_perceptual")


@pytest.mark.parametrize("mask_mode", ["soft", "straight_through"])
def test_mask_adversarial_and_image_cycle_reach_the_segmenter(mask_mode):
    objective, terms = _terms(mask_mode, PLAIN)
    for name in (*CYCLE_TERMS, "id_mask"):
        assert _segmenter_gradient(objective, terms[name]) > 0, name
    # the image-side terms of the mask -> image path never touch S
    for name in ("id_img_l1", "id_img_perceptual"):
        assert _segmenter_gradient(objective, terms[name]) == 0, name


def test_faithful_argmax_cuts_the_segmenter_off_like_the_reference():
    objective, terms = _terms("faithful_argmax", PLAIN)
    for name in CYCLE_TERMS:
        assert _segmenter_gradient(objective, terms[name]) == 0, name
    assert _segmenter_gradient(objective, terms["id_mask"]) > 0


def test_generator_warmup_keeps_generator_terms_away_from_the_segmenter():
    objective, terms = _terms("soft", StepPlan(warmup=True, augment=False, sources=[]))
    for name in CYCLE_TERMS:
        assert _segmenter_gradient(objective, terms[name]) == 0, name


def test_online_augmentation_trains_the_segmenter_on_generated_pairs():
    plan = StepPlan(warmup=False, augment=True, sources=["real", "rearranged"])
    objective, terms = _terms("soft", plan)
    assert _segmenter_gradient(objective, terms["rec_mask"]) > 0
    generator = list(objective.nets["generator"].parameters())
    grads = torch.autograd.grad(terms["rec_mask"], generator, allow_unused=True)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0  # segmentability


def _head_gradient(objective: GanStage, term: torch.Tensor) -> torch.Tensor:
    """Absolute gradient of a loss term on the segmenter's output layer, per output channel."""
    weight = objective.nets["segmenter"].head.weight
    (grad,) = torch.autograd.grad(term, [weight], retain_graph=True)
    return grad.abs().flatten(1).sum(dim=1)


def _seeded_sources() -> GanRandomSources:
    return GanRandomSources(
        np.random.default_rng(1), np.random.default_rng(1), torch.Generator().manual_seed(1)
    )


def _stage_with_instance_head() -> tuple[GanStage, StepBatch]:
    """The tiny GAN stage with a boundary and a centre channel, and a batch with their targets."""
    objective, batch = tiny_gan_stage(**{"data.boundary_px": 1, "data.centre_map": True})
    boundary = torch.zeros_like(batch.mask)
    boundary[:, :, 8:14, 8] = 1.0
    return objective, replace(batch, boundary=boundary, centre=0.5 * batch.mask)


@pytest.mark.parametrize("sources", [["real", "real"], ["rearranged", "simulator"]])
def test_real_and_generated_pairs_train_every_channel_of_the_instance_head(sources):
    objective, batch = _stage_with_instance_head()
    plan = StepPlan(warmup=False, augment=True, sources=sources)
    terms = objective.generator_losses(batch, plan, _seeded_sources()).terms
    assert (_head_gradient(objective, terms["id_mask"]) > 0).all()  # foreground, boundary, centre
    assert (_head_gradient(objective, terms["rec_mask"]) > 0).all()


def test_a_new_mask_brings_the_targets_of_its_instances(monkeypatch):
    objective, batch = _stage_with_instance_head()
    labels = np.zeros((GAN_SIZE, GAN_SIZE), np.int32)
    labels[4:12, 4:10], labels[4:12, 10:16] = 1, 2  # two touching particles
    monkeypatch.setattr(objective.sources, "make", lambda source, rng: labels)
    fake = torch.zeros_like(batch.image)
    _, targets, valid, new = objective._augmented_pairs(
        fake, batch, ["real", "simulator"], _seeded_sources()
    )
    assert torch.equal(targets[0], batch.target[0]) and new.shape[0] == 1
    made = training_targets(labels, boundary_px=1, centre_map=True)
    assert made["boundary"][4:12, 9:11].all() and made["boundary"].sum() == 16  # the contact
    expected = np.stack([made["mask"], made["boundary"], made["centre"]])
    assert np.array_equal(targets[1].numpy(), expected)
    assert np.array_equal(valid[1, 0].numpy(), made["weights"])


def test_without_an_instance_head_the_real_pairs_train_the_foreground_as_the_paper_does():
    objective, batch = _objective("soft")
    terms = objective.generator_losses(batch, PLAIN, _seeded_sources()).terms
    logits = objective.nets["segmenter"](batch.image).foreground
    expected = objective.seg_loss(logits, batch.mask, batch.valid)
    assert float(terms["id_mask"]) == pytest.approx(float(expected))


def test_straight_through_is_hard_forward_with_sigmoid_gradient():
    logits = torch.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    mask = cycle_mask(logits, "straight_through")
    assert mask.tolist() == [0.0, 1.0, 1.0]
    mask.sum().backward()
    sigmoid = torch.sigmoid(logits.detach())
    assert torch.allclose(logits.grad, sigmoid * (1 - sigmoid))


def test_mixing_probability_is_zero_in_warmup_then_ramps():
    config = GanConfig(generator_warmup_epochs=2, mix_ramp_epochs=4, mix_max=0.6)
    values = [mix_probability(config, epoch) for epoch in range(8)]
    assert values[:2] == [0.0, 0.0]
    assert values[2:6] == pytest.approx([0.15, 0.3, 0.45, 0.6])
    assert values[6:] == pytest.approx([0.6, 0.6])
    reference = GanConfig(generator_warmup_epochs=0, mix_ramp_epochs=120, mix_max=0.6)
    assert mix_probability(reference, 0) == pytest.approx(0.005)


def test_separate_guard_keeps_running_stats_of_real_images_only():
    norm = torch.nn.BatchNorm2d(1)
    net = torch.nn.Sequential(norm)
    net.train()
    before = (norm.running_mean.clone(), norm.running_var.clone(), int(norm.num_batches_tracked))
    with guarded_batchnorm(net, "separate"):
        out = net(torch.randn(2, 1, 8, 8) * 5 + 3)
    assert abs(float(out.detach().mean())) < 1e-5  # still normalised by the batch's own statistics
    assert torch.equal(norm.running_mean, before[0]) and torch.equal(norm.running_var, before[1])
    assert int(norm.num_batches_tracked) == before[2]
    net(torch.randn(2, 1, 8, 8) + 3)
    assert not torch.equal(norm.running_mean, before[0])  # real batches still update them


def test_collapse_detector_flags_a_winning_discriminator_and_a_constant_generator():
    healthy = CollapseDetector(window=4)
    assert all(healthy.update(0.3, 0.4) is None for _ in range(10))
    winning = CollapseDetector(window=4)
    messages = [winning.update(1e-5, 0.4) for _ in range(4)]
    assert messages[:3] == [None] * 3 and "discriminator" in messages[3]
    constant = CollapseDetector(window=4)
    messages = [constant.update(0.3, 0.0) for _ in range(4)]
    assert "generator output" in messages[3]
    restored = CollapseDetector(window=4)
    restored.load_state_dict(constant.state_dict())
    assert restored.update(0.3, 0.0) is not None


def _trainable_at_each_call(module: torch.nn.Module) -> list[bool]:
    """Whether the module's parameters take gradients at each of its forward passes."""
    calls: list[bool] = []
    module.register_forward_pre_hook(
        lambda m, args: calls.append(all(p.requires_grad for p in m.parameters()))
    )
    return calls


def test_train_step_freezes_the_discriminators_while_s_and_g_train():
    stage, batch = _objective("soft")
    stage.start_epoch(0)
    calls = {name: _trainable_at_each_call(stage.nets[name]) for name in ("d_image", "d_mask")}
    d_before = [p.detach().clone() for p in stage.nets["d_mask"].parameters()]
    result = stage.train_step(batch, Step(0, 0, batch.stems, stage.runtime, NonFiniteGuard(3)))
    # one generator-side pass (frozen), then the real and the generated input (trained)
    assert calls == {"d_image": [False, True, True], "d_mask": [False, True, True]}
    losses = result.losses
    assert {"g_total", "id_mask", "adv_mask", "d_image", "d_mask", "augmented"} <= set(losses)
    assert result.collapse_signals[0] == pytest.approx(losses["d_image"] + losses["d_mask"])
    after = list(stage.nets["d_mask"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, d_before, strict=True))


def test_a_skipped_generator_step_leaves_the_discriminators_untouched_and_trainable():
    stage, batch = _objective("soft")
    stage.start_epoch(0)
    stage.config.gan.loss_weights["id_mask"] = float("nan")
    d_before = [p.detach().clone() for p in stage.nets["d_image"].parameters()]
    guard = NonFiniteGuard(3)
    assert stage.train_step(batch, Step(0, 0, batch.stems, stage.runtime, guard)) is None
    assert [r["losses"] for r in guard.take_skipped()] == [["g_total"]]
    after = list(stage.nets["d_image"].parameters())
    assert all(torch.equal(a, b) for a, b in zip(after, d_before, strict=True))
    assert all(p.requires_grad for p in after)


def test_random_sources_share_the_plans_across_ranks_and_nothing_else():
    rank0, rank1 = (GanRandomSources.for_epoch(7, 3, rank) for rank in (0, 1))
    assert rank0.plans.random() == rank1.plans.random()
    assert rank0.masks.random() != rank1.masks.random()
    assert not torch.equal(
        torch.rand(4, generator=rank0.tensors), torch.rand(4, generator=rank1.tensors)
    )
    again = GanRandomSources.for_epoch(7, 3, 0)
    assert again.masks.random() == GanRandomSources.for_epoch(7, 3, 0).masks.random()
    assert again.plans.random() != GanRandomSources.for_epoch(7, 4, 0).plans.random()


def test_generator_inputs_draw_z_then_noise_from_the_given_source():
    stage, batch = _objective("soft")
    generator = stage.nets["generator"]
    z, noise = generator_inputs(generator, batch.mask, torch.Generator().manual_seed(5))
    source = torch.Generator().manual_seed(5)
    assert torch.equal(z, generator.sample_z(2, "cpu", generator=source))
    expected = generator.make_noise(2, (GAN_SIZE, GAN_SIZE), "cpu", generator=source)
    assert len(noise) == len(expected) > 0
    assert all(torch.equal(a, b) for a, b in zip(noise, expected, strict=True))
