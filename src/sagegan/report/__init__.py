"""Figures of a trained run for papers and reports.

Typical use::

    from sagegan.report import attention_evolution, attention_overlays

    figure = attention_evolution("runs/first", "figures/attention_evolution.png")
    figure.snapshots  # the epochs shown (first, middle, last by default)
    attention_overlays("runs/first", "my_data", "figures/overlays")
"""

from __future__ import annotations

from sagegan.report.attention import (
    AttentionSnapshot,
    EvolutionFigure,
    attention_evolution,
    attention_overlays,
    choose_snapshots,
    find_snapshots,
)

__all__ = [
    "AttentionSnapshot",
    "EvolutionFigure",
    "attention_evolution",
    "attention_overlays",
    "choose_snapshots",
    "find_snapshots",
]
