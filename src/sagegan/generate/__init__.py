"""Synthetic image/mask pairs from a trained generator, and realism statistics without networks.

Typical use::

    from sagegan.generate import generate_pairs

    result = generate_pairs("runs/first", "generated", masks_dir="data/masks", n_synth=20)
    result.count  # masks x styles_per_mask
"""

from __future__ import annotations

from sagegan.generate.pairs import GenerateResult, generate_pairs, load_generator
from sagegan.generate.realism import ImageStatistics, compare_statistics, realism_statistics

__all__ = [
    "GenerateResult",
    "ImageStatistics",
    "compare_statistics",
    "generate_pairs",
    "load_generator",
    "realism_statistics",
]
