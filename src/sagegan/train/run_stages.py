"""The stages a run trains, in order: pretraining, then the GAN stage, each seeded and built here
and trained by :func:`~sagegan.train.engine.run_stage`."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from sagegan.data.dataset import Sample
from sagegan.errors import ConfigError, DataError
from sagegan.models.checkpoint import load_weights
from sagegan.models.run_folder import CheckpointFolder, RunFolder
from sagegan.train.engine import RunContext, StageOutcome, run_stage
from sagegan.train.gan_stage import GanStage, gan_settings
from sagegan.train.mask_sources import MaskSources
from sagegan.train.pretrain import PretrainStage, pretrain_settings
from sagegan.train.runtime import STAGE_KEYS, derive_seed, seed_everything

LOGGER = logging.getLogger("sagegan")


def run_stages(
    ctx: RunContext,
    stage: str,
    resumed: tuple[Path, dict[str, Any]] | None,
    train_samples: list[Sample],
    init_state: dict[str, Any] | None,
) -> dict[str, StageOutcome]:
    """Train the stages ``stage`` asks for ("all", "pretrain" or "gan"), continuing from the
    ``resumed`` checkpoint (folder, state) if any; how each ended, by stage name."""
    config, runtime = ctx.config, ctx.runtime
    outcomes: dict[str, StageOutcome] = {}
    resumed_stage = None if resumed is None else resumed[1]["stage"]
    sources = None
    if stage in ("all", "gan") and config.gan.epochs > 0:  # built (and checked) before any work
        sources = MaskSources(
            [s.labels for s in train_samples], config.gan.mask_sources, config.data.patch_size
        )
    if stage in ("all", "pretrain") and resumed_stage != "gan" and config.pretrain.epochs > 0:
        seed_everything(derive_seed(config.seed, STAGE_KEYS["pretrain"], runtime.rank))
        per_rank = math.ceil(len(ctx.train_dataset) / runtime.world_size)
        steps = math.ceil(per_rank / config.pretrain.batch_size)
        pretrain = PretrainStage(config, runtime, steps, init_state)
        outcomes["pretrain"] = run_stage(pretrain, pretrain_settings(config), ctx, resumed)
        resumed = None
    if sources is not None:
        # seeded construction (also when resuming: e.g. a random perceptual network is not
        # checkpointed); a resumed stage then restores the RNG states of its checkpoint
        seed_everything(derive_seed(config.seed, STAGE_KEYS["gan"], runtime.rank))
        needs_pretrained = resumed is None or config.gan.judge_min_dice > 0  # the judge's too
        segmenter_state = (
            _pretrained_segmenter(ctx.run_dir, stage, init_state) if needs_pretrained else None
        )
        gan = GanStage(config, runtime, sources, segmenter_state, ctx.val_samples)
        outcomes["gan"] = run_stage(gan, gan_settings(config), ctx, resumed)
    return outcomes


def _pretrained_segmenter(
    run_dir: Path, stage: str, init_state: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The best pretrained segmenter of this run; else the ``model.init`` weights; else None (GAN
    stage from scratch); a GAN-only run with neither is an error."""
    pretrained = RunFolder(run_dir)
    try:
        folder = pretrained.checkpoint("best-pretrain")
    except DataError:
        if init_state is not None:
            return init_state
        if stage == "gan":
            raise ConfigError(
                f"{run_dir} has no pretrained segmenter "
                f"({pretrained.pointer_path('best-pretrain').name}): run stage 'pretrain' first"
            ) from None
        LOGGER.warning("no pretraining: the GAN stage starts from a randomly initialised segmenter")
        return None
    weights, _ = load_weights(CheckpointFolder(folder).weights())
    return weights
