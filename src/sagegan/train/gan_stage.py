"""Stage 2 as a :class:`~sagegan.train.engine.Stage`: networks, optimisers and the epoch of
iterations (generator-side step for S and G, then the discriminator step) around
:class:`~sagegan.train.gan.GanObjective`.

Optimisers: separate Adams for S, G, D_I and D_M (the reference shares one Adam for G and S), each
with a ReduceLROnPlateau on the validation score. Mixed precision: the generator-side loss is one
backward pass through S and G, so S and G share its gradient scaler ("gen_seg"); D_I and D_M each
have their own backward pass and scaler; every scaler is updated once per iteration.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from sagegan.losses import build_perceptual_loss, build_segmentation_loss
from sagegan.models import build_model
from sagegan.models.checkpoint import unwrap
from sagegan.train.config import TrainConfig
from sagegan.train.engine import Stage, StageSettings, to_device
from sagegan.train.gan import (
    GanNets,
    GanObjective,
    freeze_batchnorm,
    mix_probability,
    plan_step,
)
from sagegan.train.guards import CollapseDetector, NonFiniteGuard
from sagegan.train.mask_sources import MaskSources
from sagegan.train.pretrain import plateau_scheduler, segmenter_spec
from sagegan.train.runtime import STAGE_KEYS, Runtime, derive_seed, evaluating

LOGGER = logging.getLogger("sagegan")


def gan_settings(config: TrainConfig) -> StageSettings:
    c = config.gan
    return StageSettings("gan", c.epochs, c.batch_size, c.patience, c.val_metric, c.val_every)


class GanStage(Stage):
    """S (from pretraining), G, D_I and D_M trained together."""

    name = "gan"

    def __init__(
        self,
        config: TrainConfig,
        runtime: Runtime,
        nonfinite: NonFiniteGuard,
        sources: MaskSources,
        segmenter_state: dict[str, torch.Tensor] | None,
    ) -> None:
        c = config.gan
        self.config, self.runtime, self.nonfinite = config, runtime, nonfinite
        specs = {
            "segmenter": segmenter_spec(config),
            "generator": _spec("style_unet_generator", config.model.generator_kwargs),
            "d_image": _spec("patch_discriminator", config.model.discriminator_kwargs),
            "d_mask": _spec("patch_discriminator", config.model.discriminator_kwargs),
        }
        built = {name: build_model(s["model"], **s["model_kwargs"]) for name, s in specs.items()}
        if segmenter_state is not None:
            built["segmenter"].load_state_dict(segmenter_state)
        self.nets = {name: runtime.wrap(module) for name, module in built.items()}
        self.specs = specs
        self.gan_nets = GanNets(**self.nets)
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
        self.scalers = {name: runtime.make_scaler() for name in ("gen_seg", "d_image", "d_mask")}
        seg_loss = build_segmentation_loss(config.pretrain.loss, **config.pretrain.loss_kwargs)
        perceptual = build_perceptual_loss(**c.perceptual).to(runtime.device)
        self.objective = GanObjective(
            self.gan_nets, c, seg_loss.to(runtime.device), perceptual, sources
        )
        self.collapse = CollapseDetector(config.runtime.collapse_window)
        self.warnings: list[str] = []

    def _set_modes(self) -> None:
        for module in self.nets.values():
            module.train()
        if self.config.gan.bn_guard == "frozen":
            freeze_batchnorm(self.nets["segmenter"])

    def train_epoch(self, epoch: int, batches: Iterable[dict[str, Any]]) -> dict[str, float]:
        c, runtime = self.config.gan, self.runtime
        self._set_modes()
        key = STAGE_KEYS["gan"]
        plan_rng = np.random.default_rng(derive_seed(self.config.seed, key, epoch))
        rng = np.random.default_rng(derive_seed(self.config.seed, key, epoch, runtime.rank + 1))
        generator = torch.Generator().manual_seed(
            derive_seed(self.config.seed, key, epoch, runtime.rank + 1, 1)
        )
        step_generator = epoch >= c.generator_freeze_epochs
        sums: dict[str, float] = defaultdict(float)
        steps = 0
        for index, batch in enumerate(batches):
            image, mask, valid = to_device(batch, runtime)
            where = f"epoch {epoch} step {index}"
            plan = plan_step(c, epoch, image.shape[0], self.objective.sources, plan_rng)
            self._zero_grads("segmenter", "generator")
            with runtime.autocast():
                passed = self.objective.generator_pass(image, mask, valid, plan, generator, rng)
            total = self.objective.weighted_total(passed.terms)
            g_values = {name: float(value.detach()) for name, value in passed.terms.items()}
            g_values["g_total"] = float(total.detach())
            if not self._all_finite(g_values, batch["stem"], where):
                continue
            stepped = ["segmenter", "generator"] if step_generator else ["segmenter"]
            self._backward_and_step(total, "gen_seg", stepped)
            self._zero_grads("d_image", "d_mask")
            with runtime.autocast():
                d_losses = self.objective.discriminator_losses(image, mask, passed, generator)
            d_values = {name: float(value.detach()) for name, value in d_losses.items()}
            if not self._all_finite(d_values, batch["stem"], where):
                continue
            for name, loss in d_losses.items():
                self._backward_and_step(loss.float(), name, [name])
            for name, value in {**g_values, **d_values}.items():
                sums[name] += value
            sums["augmented"] += float(plan.augment)
            steps += 1
            warning = self.collapse.update(sum(d_values.values()), passed.fake_std)
            if warning is not None and warning not in self.warnings:
                LOGGER.warning("%s (%s)", warning, where)
                self.warnings.append(warning)
        return {name: total / max(steps, 1) for name, total in sums.items()}

    def _zero_grads(self, *names: str) -> None:
        for name in names:
            self.optimizers[name].zero_grad(set_to_none=True)

    def _all_finite(self, values: dict[str, float], stems: list[str], where: str) -> bool:
        """Non-finite guard, agreed across ranks (a skipped step is skipped everywhere)."""
        finite = self.nonfinite.check(values, stems, where)
        return not self.runtime.any_true(not finite)

    def _backward_and_step(self, loss: torch.Tensor, scaler_name: str, stepped: list[str]) -> None:
        scaler = self.scalers[scaler_name]
        scaler.scale(loss).backward()
        for name in stepped:
            scaler.step(self.optimizers[name])
        scaler.update()

    def epoch_extras(self, epoch: int) -> dict[str, Any]:
        c = self.config.gan
        warnings, self.warnings = self.warnings, []
        return {
            "mix_probability": mix_probability(c, epoch),
            "generator_warmup": epoch < c.generator_warmup_epochs,
            "generator_frozen": epoch < c.generator_freeze_epochs,
            "warnings": warnings,
        }

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "collapse": self.collapse.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.collapse.load_state_dict(state["collapse"])

    @torch.no_grad()
    def grid_columns(self, batch: dict[str, Any]) -> dict[str, list[np.ndarray]]:
        image, mask, _ = to_device(batch, self.runtime)
        segmenter, generator = unwrap(self.nets["segmenter"]), unwrap(self.nets["generator"])
        fixed = torch.Generator().manual_seed(0)
        batch_size, size = mask.shape[0], (mask.shape[-2], mask.shape[-1])
        z = generator.sample_z(batch_size, "cpu", generator=fixed).to(mask.device)
        noise = [n.to(mask.device) for n in generator.make_noise(batch_size, size, "cpu", fixed)]
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


def _spec(model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "model_kwargs": dict(kwargs)}
