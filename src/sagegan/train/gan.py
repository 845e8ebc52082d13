"""Stage 2: the pretrained segmenter S trained jointly with the generator G and two discriminators.

One iteration on a batch (x real images, m their masks, v valid pixels):

* mask -> image -> mask: ``fake = G(m, z)``; G is pulled towards x (L1 + perceptual, ``id_img_*``)
  and towards realism (LSGAN through D_I on DiffAugmented images, ``adv_image``).
* image -> mask -> image: ``S(x)`` is supervised by m (``id_mask``); its prediction ``s`` goes
  through G again, ``G(s, z')`` is pulled back to x (``rec_img_*``), and ``s`` is judged by D_M
  (``adv_mask``). With ``mask_mode`` "soft" or "straight_through" these two terms reach S;
  "faithful_argmax" is the reference's detached argmax (no gradient to S).
* online augmentation (paper eqs. 12-13): with the scheduled probability, S also trains on generated
  pairs ``(G(m', z''), m')`` (``rec_mask``), m' being the batch's masks or new masks from
  :class:`~sagegan.train.mask_sources.MaskSources`; the loss also trains G unless
  ``seg_feedback_to_generator`` is off.
* D_I and D_M are then trained with the LSGAN loss on real vs generated (detached) inputs.

S's BatchNorm statistics are guarded from generated images (``bn_guard``). During the generator
warm-up S gets no generated image and no generator-side gradient.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from sagegan.losses import diff_augment, l1_image_loss, lsgan_d_loss, lsgan_g_loss
from sagegan.models.checkpoint import unwrap
from sagegan.train.config import GanConfig
from sagegan.train.mask_sources import MaskSources


@dataclass
class GanNets:
    """The four networks of stage 2 (each possibly wrapped in DistributedDataParallel)."""

    segmenter: nn.Module
    generator: nn.Module
    d_image: nn.Module
    d_mask: nn.Module

    def as_dict(self) -> dict[str, nn.Module]:
        return {
            "segmenter": self.segmenter,
            "generator": self.generator,
            "d_image": self.d_image,
            "d_mask": self.d_mask,
        }


@dataclass
class StepPlan:
    """Decisions of one iteration, equal on every rank so that all ranks run the same passes."""

    warmup: bool
    augment: bool
    sources: list[str]


@dataclass
class GeneratorPass:
    """Generator-side loss terms and the tensors the discriminator step reuses."""

    terms: dict[str, Tensor]
    fakes: Tensor
    cycle_mask: Tensor
    fake_std: float


def mix_probability(config: GanConfig, epoch: int) -> float:
    """Probability that an iteration of ``epoch`` trains S on generated pairs.

    0 during the generator warm-up, then a linear ramp reaching ``mix_max`` after
    ``mix_ramp_epochs`` epochs (the reference: min(0.005 * (epoch + 1), 0.6)).
    """
    ramp_epoch = epoch - config.generator_warmup_epochs
    if ramp_epoch < 0:
        return 0.0
    if config.mix_ramp_epochs <= 0:
        return config.mix_max
    return config.mix_max * min(1.0, (ramp_epoch + 1) / config.mix_ramp_epochs)


def plan_step(
    config: GanConfig, epoch: int, batch_size: int, sources: MaskSources, rng: np.random.Generator
) -> StepPlan:
    """Draw whether this iteration augments and which mask source each sample uses."""
    warmup = epoch < config.generator_warmup_epochs
    augment = (not warmup) and bool(rng.random() < mix_probability(config, epoch))
    return StepPlan(warmup, augment, sources.choose(rng, batch_size) if augment else [])


def cycle_mask(logits: Tensor, mode: str) -> Tensor:
    """S's prediction as G's input: soft probabilities, straight-through hard mask, or detached
    argmax (the reference: no gradient reaches S)."""
    probability = torch.sigmoid(logits)
    if mode == "soft":
        return probability
    hard = (logits > 0).to(probability.dtype)
    if mode == "straight_through":
        return hard + probability - probability.detach()
    return hard.detach()


@contextlib.contextmanager
def guarded_batchnorm(module: nn.Module, guard: str) -> Iterator[None]:
    """Run generated images through S without letting them update its BatchNorm running stats.

    "separate": BatchNorm normalises with the generated batch's own statistics but its momentum is 0
    for the block, so the running statistics (used at validation) see real images only. "frozen" and
    "none" change nothing here ("frozen" keeps BatchNorm in eval mode for the whole stage).
    """
    if guard != "separate":
        yield
        return
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, (momentum, tracked) in zip(norms, saved, strict=True):
            norm.momentum = momentum
            norm.num_batches_tracked.copy_(tracked)


def freeze_batchnorm(module: nn.Module) -> None:
    """Put every BatchNorm layer of ``module`` in eval mode (running stats fixed)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


class GanObjective:
    """Computes the generator-side terms and the discriminator losses of one iteration."""

    def __init__(
        self,
        nets: GanNets,
        config: GanConfig,
        seg_loss: nn.Module,
        perceptual: nn.Module,
        sources: MaskSources,
    ) -> None:
        self.nets = nets
        self.config = config
        self.seg_loss = seg_loss
        self.perceptual = perceptual
        self.sources = sources

    def _generate(self, masks: Tensor, generator: torch.Generator) -> Tensor:
        g = unwrap(self.nets.generator)
        batch, size = masks.shape[0], (masks.shape[-2], masks.shape[-1])
        z = g.sample_z(batch, "cpu", generator=generator).to(masks.device)
        noise = [n.to(masks.device) for n in g.make_noise(batch, size, "cpu", generator=generator)]
        return self.nets.generator(masks, z=z, noise=noise)

    def _augment_d(self, images: Tensor, generator: torch.Generator) -> Tensor:
        return diff_augment(
            images, self.config.diffaugment_policy, self.config.diffaugment_p, generator=generator
        )

    def generator_pass(
        self,
        image: Tensor,
        mask: Tensor,
        valid: Tensor,
        plan: StepPlan,
        generator: torch.Generator,
        rng: np.random.Generator,
    ) -> GeneratorPass:
        """All generator-side loss terms (unweighted) for one batch."""
        nets, config = self.nets, self.config
        fake = self._generate(mask, generator)
        terms = {
            "id_img_l1": l1_image_loss(fake, image, valid),
            "id_img_perceptual": self.perceptual(fake, image),
        }
        logits = nets.segmenter(image).foreground
        terms["id_mask"] = self.seg_loss(logits, mask, valid)
        predicted = cycle_mask(logits, config.mask_mode)
        if plan.warmup:
            predicted = predicted.detach()
        rebuilt = self._generate(predicted, generator)
        terms["rec_img_l1"] = l1_image_loss(rebuilt, image, valid)
        terms["rec_img_perceptual"] = self.perceptual(rebuilt, image)
        terms["adv_mask"] = lsgan_g_loss(nets.d_mask(predicted))
        fakes = fake
        if plan.augment:
            aug_images, aug_masks, aug_valid, new_fakes = self._augmented_pairs(
                fake, mask, valid, plan.sources, generator, rng
            )
            if not config.seg_feedback_to_generator:
                aug_images = aug_images.detach()
            with guarded_batchnorm(nets.segmenter, config.bn_guard):
                aug_logits = nets.segmenter(aug_images).foreground
            terms["rec_mask"] = self.seg_loss(aug_logits, aug_masks, aug_valid)
            if new_fakes is not None:
                fakes = torch.cat([fake, new_fakes])
        terms["adv_image"] = lsgan_g_loss(nets.d_image(self._augment_d(fakes, generator)))
        fake_std = float(fakes.detach().float().flatten(1).std(dim=1).mean())
        return GeneratorPass(terms, fakes, predicted, fake_std)

    def _augmented_pairs(
        self,
        fake: Tensor,
        mask: Tensor,
        valid: Tensor,
        sources: list[str],
        generator: torch.Generator,
        rng: np.random.Generator,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """Generated (image, mask, valid) pairs: batch masks reuse ``fake``, new masks get new
        images. Also returns the newly generated images (None when all were batch masks)."""
        from_batch = [i for i, source in enumerate(sources) if source == "real"]
        new = [i for i, source in enumerate(sources) if source != "real"]
        images, masks, valids = [fake[from_batch]], [mask[from_batch]], [valid[from_batch]]
        new_fakes = None
        if new:
            made = np.stack([self.sources.make(sources[i], rng) for i in new])[:, None]
            new_masks = torch.from_numpy(made).to(device=mask.device, dtype=mask.dtype)
            new_fakes = self._generate(new_masks, generator)
            images.append(new_fakes)
            masks.append(new_masks)
            valids.append(torch.ones_like(new_masks))
        return torch.cat(images), torch.cat(masks), torch.cat(valids), new_fakes

    def discriminator_losses(
        self, image: Tensor, mask: Tensor, passed: GeneratorPass, generator: torch.Generator
    ) -> dict[str, Tensor]:
        """LSGAN losses of D_I (DiffAugment on real and fake alike) and D_M."""
        nets = self.nets
        real_image = nets.d_image(self._augment_d(image, generator))
        fake_image = nets.d_image(self._augment_d(passed.fakes.detach(), generator))
        real_mask = nets.d_mask(mask)
        fake_mask = nets.d_mask(passed.cycle_mask.detach())
        return {
            "d_image": lsgan_d_loss(real_image, fake_image),
            "d_mask": lsgan_d_loss(real_mask, fake_mask),
        }

    def weighted_total(self, terms: dict[str, Tensor]) -> Tensor:
        """Sum of the terms times their configured weights (fp32)."""
        weights = self.config.loss_weights
        return sum(weights.get(name, 0.0) * value.float() for name, value in terms.items())
