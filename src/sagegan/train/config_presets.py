"""Named training presets: override dicts merged over the ``paper`` defaults (the dataclass
defaults of `sagegan.train.config_sections`) by `sagegan.train.config.preset_dict`."""

from __future__ import annotations

from typing import Any

# Sized for a 2-core CPU (about 8 minutes for 40 images of 512 x 768; see
# benchmarks/train_cpu_small.py): 16-wide networks on 256 x 256 crops, a short pretraining with a
# higher learning rate, and a short GAN stage with a cheaper perceptual loss (three VGG levels at
# half resolution).
CPU_SMALL: dict[str, Any] = {
    "data": {
        "patch_size": [256, 256],
        "samples_per_epoch": 64,
        "val_fraction": 0.15,
        "test_fraction": 0.15,
    },
    "model": {
        "segmenter_kwargs": {"base_width": 16, "depth": 4},
        "generator_kwargs": {"base_width": 16},
        "discriminator_kwargs": {"base_width": 32},
    },
    "pretrain": {
        "epochs": 10,
        "lr": 1e-3,
        "batch_size": 2,
        "patience": 4,
        "scheduler_patience": 2,
        "scheduler_factor": 0.5,
    },
    "gan": {
        "epochs": 3,
        "batch_size": 2,
        "lr_segmenter": 1e-4,
        "lr_generator": 2e-4,
        "lr_discriminator": 2e-4,
        "generator_warmup_epochs": 1,
        "mix_ramp_epochs": 1,
        "mix_max": 0.5,
        "patience": 3,
        "scheduler_patience": 2,
        "scheduler_factor": 0.5,
        "perceptual": {"layers": ["relu1_1", "relu2_1", "relu3_1"], "downscale": 2},
    },
    "runtime": {"grid_every": 1, "attention_every": 1},
}

TINY: dict[str, Any] = {
    "data": {
        "patch_size": [64, 64],
        "samples_per_epoch": 4,
        "val_fraction": 0.25,
        "test_fraction": 0.25,
    },
    "model": {
        "segmenter_kwargs": {"base_width": 4, "depth": 3},
        "generator_kwargs": {"base_width": 4, "depth": 3},
        "discriminator_kwargs": {"base_width": 4},
    },
    "pretrain": {"epochs": 2, "lr": 3e-3, "batch_size": 2, "patience": 5, "val_metric": "dice"},
    "gan": {
        "epochs": 2,
        "batch_size": 2,
        "generator_warmup_epochs": 0,
        "mix_ramp_epochs": 1,
        "mix_max": 1.0,
        "patience": 5,
        "val_metric": "dice",
        "perceptual": {"source": "random", "layers": ["relu1_1"]},
        "realism_every": 0,
    },
    "runtime": {"progress": False, "grid_every": 1, "attention_every": 1, "attention_images": 1},
}

# The default recipe: cpu-small's networks with instance normalisation (nnU-Net's choice; batch
# statistics of 2 patches from heterogeneous micrographs make a poor eval-mode BatchNorm), depth,
# patch size, inversion and the iteration count planned from the training set
# (sagegan.train.planning), a poly learning-rate schedule with warm-up, stage 1 only (the GAN
# stage has not paid on real data yet: docs/benchmarks.md; --set gan.epochs=3 adds it),
# validation ten times per run.
AUTO: dict[str, Any] = {
    "plan": {"enabled": True},
    "data": {
        **CPU_SMALL["data"],
        "augment": {"scale": 0.5, "scale_range": [0.67, 1.5]},
    },
    "model": {
        **CPU_SMALL["model"],
        "segmenter_kwargs": {**CPU_SMALL["model"]["segmenter_kwargs"], "norm": "instance"},
    },
    "pretrain": {**CPU_SMALL["pretrain"], "schedule": "poly"},
    "gan": {**CPU_SMALL["gan"], "epochs": 0},
    "runtime": {"grid_every": 1000, "attention_every": 1000},
}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "cpu-small": CPU_SMALL,
    "tiny": TINY,
    "auto": AUTO,
}
