"""Synthetic image/mask pairs from a trained generator (their realism: `sagegan.metrics.kid`).

Typical use::

    from sagegan.generate import generate_pairs

    result = generate_pairs("runs/first", "generated", masks_dir="data/masks", n_synth=20)
    result.count  # masks x styles_per_mask
"""

from __future__ import annotations

from sagegan.generate.pairs import GenerateResult, generate_pairs, load_generator

__all__ = [
    "GenerateResult",
    "generate_pairs",
    "load_generator",
]
