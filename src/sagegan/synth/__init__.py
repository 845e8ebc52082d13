"""Procedural SEM simulator: nanoparticle images with exact masks and instance labels.

Typical use::

    from sagegan.synth import SimulatorConfig, simulate, write_dataset

    sample = simulate(seed=0, config=SimulatorConfig.preset("tio2", size=(256, 256)))
    write_dataset("synthetic", n=100, seed=0)
"""

from __future__ import annotations

from sagegan.synth.config import PRESETS, SimulatorConfig
from sagegan.synth.layouts import LAYOUTS, Placement, SizeDistribution
from sagegan.synth.render import render_sem
from sagegan.synth.shapes import SHAPE_KINDS
from sagegan.synth.simulator import SyntheticSample, sample_layout, simulate
from sagegan.synth.writer import image_seed, write_dataset, write_sem_tiff

__all__ = [
    "LAYOUTS",
    "PRESETS",
    "SHAPE_KINDS",
    "Placement",
    "SimulatorConfig",
    "SizeDistribution",
    "SyntheticSample",
    "image_seed",
    "render_sem",
    "sample_layout",
    "simulate",
    "write_dataset",
    "write_sem_tiff",
]
