"""Stage 2: the pretrained segmenter S trained jointly with the generator G and two discriminators.

One iteration (:meth:`GanStage.train_step`) on a batch (x real images, m their masks, v valid
pixels), with D_I and D_M frozen while S and G train:

* mask -> image -> mask: ``fake = G(m, z)``; G is pulled towards x (L1 + perceptual, ``id_img_*``)
  and towards realism (LSGAN through D_I on DiffAugmented images, ``adv_image``).
* image -> mask -> image: ``S(x)`` is supervised by m (``id_mask``; with an instance head by the
  batch's boundary and centre targets too, as in pretraining); its prediction ``s`` goes
  through G again, ``G(s, z')`` is pulled back to x (``rec_img_*``), and ``s`` is judged by D_M
  (``adv_mask``). With ``mask_mode`` "soft" or "straight_through" these two terms reach S;
  "faithful_argmax" is the reference's detached argmax (no gradient to S).
* online augmentation (paper eqs. 12-13): with the scheduled probability, S also trains on generated
  pairs ``(G(m', z''), m')`` (``rec_mask``), m' being the batch's masks or new masks from
  :class:`~sagegan.train.mask_sources.MaskSources`; with an instance head every channel is
  supervised, the new masks' targets made from their instance labels as the loader makes the real
  ones (`sagegan.data.separation.training_targets`); the loss also trains G unless
  ``seg_feedback_to_generator`` is off. With ``judge_min_dice``, pairs that a frozen copy of the
  starting S does not read as their masks are left out of it (`sagegan.train.gan_judge`).
* D_I and D_M are then trained with the LSGAN loss on real vs generated (detached) inputs.

S's BatchNorm statistics are guarded from generated images (``bn_guard``). During the generator
warm-up S gets no generated image and no generator-side gradient. With ``generator_ema`` a moving
average of G follows every G step (for ``sagegan generate``); at the end of an epoch
(``realism_every``) the :class:`~sagegan.train.gan_realism.RealismProbe` scores G's images of the
validation masks, and the realism gate (``realism_gate_kid``) opens online augmentation once the
KID is low enough.

Optimisers: separate Adams for S, G, D_I and D_M (the reference shares one Adam for G and S), each
with a ReduceLROnPlateau on the validation score. Mixed precision: the generator-side loss is one
backward pass through S and G, so S and G share its gradient scaler ("gen_seg"); D_I and D_M each
have their own backward pass and scaler; every scaler is updated once per iteration.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sagegan.data.dataset import Sample
from sagegan.data.separation import HEAD_TARGETS, training_targets
from sagegan.losses import (
    build_perceptual_loss,
    diff_augment,
    l1_image_loss,
    lsgan_d_loss,
    lsgan_g_loss,
)
from sagegan.models import build_model
from sagegan.models.checkpoint import unwrap
from sagegan.train.batchnorm_guard import freeze_batchnorm, guarded_batchnorm
from sagegan.train.config import TrainConfig
from sagegan.train.gan_judge import PairJudge
from sagegan.train.gan_plan import StepPlan, mix_probability, plan_step
from sagegan.train.gan_random import GanRandomSources, generator_inputs
from sagegan.train.gan_realism import RealismProbe
from sagegan.train.guards import CollapseDetector
from sagegan.train.mask_sources import MaskSources
from sagegan.train.runtime import Runtime, evaluating
from sagegan.train.stage_setup import (
    net_spec,
    plateau_scheduler,
    segmentation_criterion,
    segmenter_spec,
)
from sagegan.train.training_stage import (
    StageBase,
    StageSettings,
    Step,
    StepBatch,
    StepResult,
    frozen,
    scaled_step,
)
from sagegan.train.weight_average import move_average, warmed_decay

DISCRIMINATORS = ("d_image", "d_mask")


def gan_settings(config: TrainConfig) -> StageSettings:
    c = config.gan
    return StageSettings("gan", c.epochs, c.batch_size, c.patience, c.val_metric, c.val_every)


@dataclass
class GeneratorPass:
    """Generator-side loss terms, the tensors the discriminator step reuses, and counts to log
    (``stats``: with the judge, in an iteration with online augmentation, the generated pairs and
    those it rejected; a logged epoch mean counts the other iterations as 0)."""

    terms: dict[str, Tensor]
    fakes: Tensor
    cycle_mask: Tensor
    fake_std: float
    stats: dict[str, float] = field(default_factory=dict)


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


class GanStage(StageBase):
    """S (from pretraining), G, D_I and D_M trained together."""

    name = "gan"

    def __init__(
        self,
        config: TrainConfig,
        runtime: Runtime,
        sources: MaskSources,
        segmenter_state: dict[str, torch.Tensor] | None,
        val_samples: list[Sample],
    ) -> None:
        c = config.gan
        self.config, self.runtime, self.sources = config, runtime, sources
        self.specs = {
            "segmenter": segmenter_spec(config),
            "generator": net_spec("style_unet_generator", config.model.generator_kwargs),
            "d_image": net_spec("patch_discriminator", config.model.discriminator_kwargs),
            "d_mask": net_spec("patch_discriminator", config.model.discriminator_kwargs),
        }
        built = {n: build_model(s["model"], **s["model_kwargs"]) for n, s in self.specs.items()}
        if segmenter_state is not None:
            built["segmenter"].load_state_dict(segmenter_state)
        self.nets = {name: runtime.wrap(module) for name, module in built.items()}
        self.judge = None  # a frozen copy of the starting S (gan.judge_min_dice)
        if c.judge_min_dice > 0:
            self.judge = PairJudge(built["segmenter"], c.judge_min_dice)  # wrap moved it
        if c.generator_ema > 0:  # not wrapped: it has no gradient, every rank updates its own
            self.specs["generator_ema"] = dict(self.specs["generator"])
            self.nets["generator_ema"] = copy.deepcopy(built["generator"]).requires_grad_(False)
        lrs = {
            "segmenter": c.lr_segmenter,
            "generator": c.lr_generator,
            "d_image": c.lr_discriminator,
            "d_mask": c.lr_discriminator,
        }
        self.optimizers = {
            name: torch.optim.Adam(self.nets[name].parameters(), lr=lr, betas=c.betas)
            for name, lr in lrs.items()
        }
        self.schedulers = {
            name: plateau_scheduler(
                optimizer, c.scheduler_factor, c.scheduler_patience, c.faithful_scheduler_mode
            )
            for name, optimizer in self.optimizers.items()
        }
        self.scalers = {name: runtime.make_scaler() for name in ("gen_seg", *DISCRIMINATORS)}
        self.seg_loss = segmentation_criterion(config).to(runtime.device)  # every channel
        self.perceptual = build_perceptual_loss(**c.perceptual.loss_options()).to(runtime.device)
        self.collapse = CollapseDetector(config.runtime.collapse_window)
        self.random: GanRandomSources  # the epoch's, set by start_epoch
        self.probe = None
        if c.realism_every > 0 and runtime.is_main:
            with torch.random.fork_rng(devices=[]):  # loading its network draws no training RNG
                self.probe = RealismProbe(val_samples, runtime.device, config.seed)
        self.ema_steps = 0  # generator steps averaged so far (the decay's warm-up)
        self.realism: dict[str, float] | None = None  # the last epoch's, when measured
        self.gate_opened: int | None = None  # the first epoch of online augmentation's ramp

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        if self.config.gan.bn_guard == "frozen":
            freeze_batchnorm(self.nets["segmenter"])
        self.random = GanRandomSources.for_epoch(self.config.seed, epoch, self.runtime.rank)

    def train_step(self, batch: StepBatch, step: Step) -> StepResult | None:
        """S and G against frozen discriminators, then D_I and D_M (the engine zeroed every
        gradient); None when a non-finite loss skipped the rest of the iteration."""
        c = self.config.gan
        plan = plan_step(
            c, step.epoch, batch.size, self.sources, self.random.plans, self.gate_opened
        )
        discriminators = [self.nets[name] for name in DISCRIMINATORS]
        with frozen(*discriminators):
            with step.autocast():
                passed = self.generator_losses(batch, plan, self.random)
            total = self.weighted_total(passed.terms)
            g_values = {name: float(value.detach()) for name, value in passed.terms.items()}
            g_values["g_total"] = float(total.detach())
            if not step.finite(g_values):
                return None
            generator_frozen = step.epoch < c.generator_freeze_epochs
            stepped = ["segmenter"] if generator_frozen else ["segmenter", "generator"]
            scaled_step(total, self.scalers["gen_seg"], [self.optimizers[n] for n in stepped])
            if not generator_frozen:
                self._update_ema()
        with step.autocast():
            d_losses = self.discriminator_losses(batch, passed, self.random.tensors)
        d_values = {name: float(value.detach()) for name, value in d_losses.items()}
        if not step.finite(d_values):
            return None
        for name, loss in d_losses.items():
            scaled_step(loss.float(), self.scalers[name], [self.optimizers[name]])
        losses = {**g_values, **d_values, **passed.stats, "augmented": float(plan.augment)}
        return StepResult(losses, collapse_signals=(sum(d_values.values()), passed.fake_std))

    def generator_losses(
        self, batch: StepBatch, plan: StepPlan, random: GanRandomSources
    ) -> GeneratorPass:
        """All generator-side loss terms (unweighted) for one batch."""
        image, mask, valid = batch.image, batch.mask, batch.valid
        c, segmenter = self.config.gan, self.nets["segmenter"]
        fake = self._generate(mask, random.tensors)
        terms = {
            "id_img_l1": l1_image_loss(fake, image, valid),
            "id_img_perceptual": self.perceptual(fake, image),
        }
        outputs = segmenter(image)
        logits = outputs.foreground
        terms["id_mask"] = self.seg_loss(outputs.logits.float(), batch.target, valid)
        predicted = cycle_mask(logits, c.mask_mode)
        if plan.warmup:
            predicted = predicted.detach()
        rebuilt = self._generate(predicted, random.tensors)
        terms["rec_img_l1"] = l1_image_loss(rebuilt, image, valid)
        terms["rec_img_perceptual"] = self.perceptual(rebuilt, image)
        terms["adv_mask"] = lsgan_g_loss(self.nets["d_mask"](predicted))
        fakes, stats = fake, {}
        if plan.augment:
            *pairs, new_fakes = self._augmented_pairs(fake, batch, plan.sources, random)
            terms["rec_mask"], stats = self._generated_pairs_loss(*pairs)
            if new_fakes is not None:
                fakes = torch.cat([fake, new_fakes])
        augmented = self._augment_d(fakes, random.tensors)
        terms["adv_image"] = lsgan_g_loss(self.nets["d_image"](augmented))
        fake_std = float(fakes.detach().float().flatten(1).std(dim=1).mean())
        return GeneratorPass(terms, fakes, predicted, fake_std, stats)

    def _augmented_pairs(
        self, fake: Tensor, batch: StepBatch, sources: list[str], random: GanRandomSources
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """Generated (image, target, valid) pairs: batch masks reuse ``fake`` and the batch's
        targets and loss weights, new masks get new images, targets and contact weights (G draws
        the target's mask, with the planned gaps). Also returns the newly generated images (None
        when all were batch masks)."""
        target, valid = batch.target, batch.valid
        from_batch = [i for i, source in enumerate(sources) if source == "real"]
        new = [i for i, source in enumerate(sources) if source != "real"]
        images, targets, valids = [fake[from_batch]], [target[from_batch]], [valid[from_batch]]
        new_fakes = None
        if new:
            made = [self._new_targets(self.sources.make(sources[i], random.masks)) for i in new]
            new_targets, new_valid = (
                torch.from_numpy(np.stack(arrays)).to(device=target.device, dtype=target.dtype)
                for arrays in zip(*made, strict=True)
            )
            new_fakes = self._generate(new_targets[:, :1], random.tensors)
            images.append(new_fakes)
            targets.append(new_targets)
            valids.append(new_valid)
        return torch.cat(images), torch.cat(targets), torch.cat(valids), new_fakes

    def _generated_pairs_loss(
        self, images: Tensor, targets: Tensor, valid: Tensor
    ) -> tuple[Tensor, dict[str, float]]:
        """S's loss on generated pairs (``rec_mask``) over the pairs the judge keeps (all without
        one), and the judge's counts. When it keeps none, S still sees one of them, at weight 0,
        so that every rank runs the same forward passes (SyncBatchNorm)."""
        stats: dict[str, float] = {}
        weight = 1.0
        if self.judge is not None:
            kept = self.judge.keep(images, targets, valid)
            stats = {"generated_pairs": float(len(kept)), "judge_rejected": float((~kept).sum())}
            if not kept.any():
                kept[0], weight = True, 0.0
            images, targets, valid = images[kept], targets[kept], valid[kept]
        if not self.config.gan.seg_feedback_to_generator:
            images = images.detach()
        segmenter = self.nets["segmenter"]
        with guarded_batchnorm(segmenter, self.config.gan.bn_guard):
            logits = segmenter(images).logits.float()
        return weight * self.seg_loss(logits, targets, valid), stats

    def _new_targets(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(C x H x W target, 1 x H x W loss weights) of a new mask's label map, made as the
        loader makes a real patch's: the mask, then the instance head's channels."""
        d = self.config.data
        made = training_targets(labels, d.gap_px, d.contact_weight, d.boundary_px, d.centre_map)
        channels = [made["mask"], *(made[head] for head in HEAD_TARGETS if head in made)]
        return np.stack(channels), made["weights"][None]

    def discriminator_losses(
        self, batch: StepBatch, passed: GeneratorPass, source: torch.Generator
    ) -> dict[str, Tensor]:
        """LSGAN losses of D_I (DiffAugment on real and fake alike) and D_M."""
        d_image, d_mask = self.nets["d_image"], self.nets["d_mask"]
        real_image = d_image(self._augment_d(batch.image, source))
        fake_image = d_image(self._augment_d(passed.fakes.detach(), source))
        real_mask = d_mask(batch.mask)
        fake_mask = d_mask(passed.cycle_mask.detach())
        return {
            "d_image": lsgan_d_loss(real_image, fake_image),
            "d_mask": lsgan_d_loss(real_mask, fake_mask),
        }

    def weighted_total(self, terms: dict[str, Tensor]) -> Tensor:
        """Sum of the terms times their configured weights (fp32)."""
        weights = self.config.gan.loss_weights
        return sum(weights.get(name, 0.0) * value.float() for name, value in terms.items())

    def _generate(self, masks: Tensor, source: torch.Generator) -> Tensor:
        z, noise = generator_inputs(unwrap(self.nets["generator"]), masks, source)
        return self.nets["generator"](masks, z=z, noise=noise)

    def _augment_d(self, images: Tensor, source: torch.Generator) -> Tensor:
        c = self.config.gan
        return diff_augment(images, c.diffaugment_policy, c.diffaugment_p, generator=source)

    def _update_ema(self) -> None:
        """Move the moving average of G towards G (`sagegan.train.weight_average`)."""
        if "generator_ema" not in self.nets:
            return
        decay = warmed_decay(self.config.gan.generator_ema, self.ema_steps)
        self.ema_steps += 1
        move_average(self.nets["generator_ema"], unwrap(self.nets["generator"]), decay)

    def end_epoch(self, epoch: int) -> None:
        """Measure realism when due (rank 0, shared with every rank) and open the gate."""
        c = self.config.gan
        self.realism = None
        if c.realism_every == 0 or (epoch + 1) % c.realism_every:
            return
        scores = None
        if self.probe is not None:  # G itself: online augmentation draws its pairs from it
            scores = self.probe.measure(self.nets["generator"])
        self.realism = self.runtime.from_main(scores)
        gate = c.realism_gate_kid
        if gate is not None and self.gate_opened is None and self.realism["kid"] <= gate:
            self.gate_opened = epoch + 1

    def epoch_extras(self, epoch: int) -> dict[str, Any]:
        c = self.config.gan
        probability = mix_probability(c, epoch, self.gate_opened)
        extras = {
            "mix_probability": probability,
            "online_augmentation": probability > 0,
            "generator_warmup": epoch < c.generator_warmup_epochs,
            "generator_frozen": epoch < c.generator_freeze_epochs,
        }
        return extras if self.realism is None else {**extras, "realism": self.realism}

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "collapse": self.collapse.state_dict(),
            "gate_opened": self.gate_opened,
            "ema_steps": self.ema_steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.collapse.load_state_dict(state["collapse"])
        self.gate_opened = state.get("gate_opened")  # absent in checkpoints of older versions
        self.ema_steps = state.get("ema_steps", 0)

    @torch.no_grad()
    def grid_columns(self, batch: dict[str, Any]) -> dict[str, list[np.ndarray]]:
        loaded = StepBatch.from_loader(batch, self.runtime)
        image, mask = loaded.image, loaded.mask
        segmenter, generator = unwrap(self.nets["segmenter"]), unwrap(self.nets["generator"])
        z, noise = generator_inputs(generator, mask, torch.Generator().manual_seed(0))
        with evaluating(segmenter, generator), self.runtime.autocast():
            out = segmenter(image)
            fake = generator(mask, z=z, noise=noise)
            fake_pred = segmenter(fake).logits
        columns = {
            "image": list(image[:, 0].float().cpu().numpy()),
            "mask": list(mask[:, 0].float().cpu().numpy()),
            "prediction": list((out.logits[:, 0] > 0).float().cpu().numpy()),
            "generated": list(fake[:, 0].float().cpu().numpy()),
            "S(generated)": list((fake_pred[:, 0] > 0).float().cpu().numpy()),
        }
        if out.attention:
            columns["attention"] = list(out.attention[-1][:, 0].float().cpu().numpy())
        return columns
