"""Figures of a trained run for papers, and one self-contained HTML report of runs and results.

Typical use::

    from sagegan.report import attention_evolution, attention_overlays, write_report

    write_report(["demo_out"], "demo_out/report.html")  # run, evaluation, segmentation, ...

    figure = attention_evolution("runs/first", "figures/attention_evolution.png")
    figure.snapshots  # the epochs shown (first, middle, last by default)
    attention_overlays("runs/first", "my_data", "figures/overlays")
"""

from __future__ import annotations

from sagegan.models.run_folder import AttentionSnapshot
from sagegan.report.attention import EvolutionFigure, attention_evolution, attention_overlays
from sagegan.report.build import write_report
from sagegan.report.snapshots import choose_snapshots, find_snapshots

__all__ = [
    "AttentionSnapshot",
    "EvolutionFigure",
    "attention_evolution",
    "attention_overlays",
    "choose_snapshots",
    "find_snapshots",
    "write_report",
]
