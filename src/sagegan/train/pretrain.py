"""Stage 1: the segmenter alone on real image/mask patches (paper 2.4, audit 2.2).

Adam, the configured segmentation loss (default BCE + focal Tversky, paper eq. 16), a
ReduceLROnPlateau scheduler that maximises the validation metric (``faithful_scheduler_mode``: the
reference's inverted "min") or a per-iteration poly schedule with warm-up, early stopping and model
selection on the validation split only (the loop in :mod:`sagegan.train.engine`). With
``pretrain.ema`` the stage's ``segmenter`` (validated, selected and checkpointed) is a moving
average of the trained network, which the stage state carries for an exact resume.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

from sagegan.models import build_model
from sagegan.models.checkpoint import unwrap
from sagegan.train.config import TrainConfig
from sagegan.train.runtime import Runtime, evaluating
from sagegan.train.stage_setup import plateau_scheduler, segmentation_criterion, segmenter_spec
from sagegan.train.training_stage import (
    StageBase,
    StageSettings,
    Step,
    StepBatch,
    StepResult,
    scaled_step,
)
from sagegan.train.weight_average import move_average, warmed_decay


def pretrain_settings(config: TrainConfig) -> StageSettings:
    """The loop's settings; a fine-tuning run (``model.init``) with ``pretrain.select_start``
    lets its starting weights compete for the best checkpoint."""
    c = config.pretrain
    competes = config.model.init is not None and c.select_start
    return StageSettings(
        "pretrain", c.epochs, c.batch_size, c.patience, c.val_metric, c.val_every, competes
    )


POLY_EXPONENT = 0.9


def poly_factor(total: int, warmup: int) -> Callable[[int], float]:
    """Learning-rate factor of iteration ``step``: linear warm-up to 1 over ``warmup`` steps, then
    ``(1 - progress) ** 0.9`` down to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(total - warmup, 1)
        return max(0.0, 1.0 - progress) ** POLY_EXPONENT

    return factor


class PretrainStage(StageBase):
    """Trains S with its segmentation loss on real patches."""

    name = "pretrain"

    def __init__(
        self,
        config: TrainConfig,
        runtime: Runtime,
        steps_per_epoch: int,
        initial_state: dict[str, torch.Tensor] | None = None,
    ) -> None:
        c = config.pretrain
        self.runtime = runtime
        self.steps_per_epoch, self.warmup_iterations = steps_per_epoch, c.warmup_iterations
        spec = segmenter_spec(config)
        network = build_model(spec["model"], **spec["model_kwargs"])
        if initial_state is not None:  # fine-tuning (model.init)
            network.load_state_dict(initial_state)
        self.live = runtime.wrap(network)  # the network the optimiser trains
        self.ema, self.ema_steps = c.ema, 0
        average = self.live  # without an average the checkpointed segmenter is the trained one
        if c.ema > 0:  # not wrapped: every rank updates its own copy of the average
            average = copy.deepcopy(unwrap(self.live)).requires_grad_(False)
        self.nets = {"segmenter": average}
        self.specs = {"segmenter": spec}
        self.loss = segmentation_criterion(config).to(runtime.device)
        optimizer = torch.optim.Adam(self.live.parameters(), lr=c.lr, betas=c.betas)
        self.optimizers = {"segmenter": optimizer}
        if c.schedule == "poly":  # stepped by the engine after every iteration
            factor = poly_factor(c.epochs * steps_per_epoch, c.warmup_iterations)
            scheduler = LambdaLR(optimizer, factor)
        else:
            scheduler = plateau_scheduler(
                optimizer, c.scheduler_factor, c.scheduler_patience, c.faithful_scheduler_mode
            )
        self.schedulers = {"segmenter": scheduler}
        self.scalers = {"segmenter": runtime.make_scaler()}

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        self.live.train()

    def train_step(self, batch: StepBatch, step: Step) -> StepResult | None:
        with step.autocast():
            logits = self.live(batch.image).logits
        loss = self.loss(logits.float(), batch.target, batch.valid)
        value = float(loss.detach())
        if not step.finite({"seg": value}):
            return None
        scaled_step(loss, self.scalers["segmenter"], [self.optimizers["segmenter"]])
        if self.ema > 0:
            move_average(self.segmenter, unwrap(self.live), warmed_decay(self.ema, self.ema_steps))
            self.ema_steps += 1
        return StepResult({"seg": value})

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.ema > 0:  # the checkpoint's segmenter is the average: keep the trained weights
            state["trained_segmenter"] = unwrap(self.live).state_dict()
            state["ema_steps"] = self.ema_steps
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.ema > 0:
            unwrap(self.live).load_state_dict(state["trained_segmenter"])
            self.ema_steps = state["ema_steps"]

    def set_epochs(self, epochs: int) -> None:
        """The poly schedule decays to zero at the end of ``epochs`` epochs instead, from the
        coming iteration on (whose learning rate is set again)."""
        scheduler = self.schedulers["segmenter"]
        if not isinstance(scheduler, LambdaLR):
            return
        total = epochs * self.steps_per_epoch
        scheduler.lr_lambdas = [poly_factor(total, self.warmup_iterations)]
        scheduler.last_epoch -= 1  # step() counts it again, at the new total
        scheduler.step()

    @torch.no_grad()
    def grid_columns(self, batch: dict[str, Any]) -> dict[str, list[np.ndarray]]:
        loaded = StepBatch.from_loader(batch, self.runtime)
        image, mask = loaded.image, loaded.mask
        segmenter = unwrap(self.segmenter)
        with evaluating(segmenter), self.runtime.autocast():
            out = segmenter(image)
        columns = {
            "image": list(image[:, 0].float().cpu().numpy()),
            "mask": list(mask[:, 0].float().cpu().numpy()),
            "prediction": list((out.logits[:, 0] > 0).float().cpu().numpy()),
        }
        if out.attention:
            columns["attention"] = list(out.attention[-1][:, 0].float().cpu().numpy())
        return columns
