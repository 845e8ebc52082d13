"""Evaluation of a trained model on a split of a dataset: per-image and pooled metrics, written
as JSON, CSV and a markdown table.

Typical use::

    from sagegan.evaluate import evaluate_run, format_summary

    result = evaluate_run("runs/first", "my_data", out="runs/first/eval-test")
    print(format_summary(result.summary))
"""

from __future__ import annotations

from sagegan.evaluate.run import EvaluationResult, Predictor, evaluate_run
from sagegan.evaluate.selection import SPLIT_PARTS, select_pairs
from sagegan.evaluate.tables import format_summary, summary_markdown

__all__ = [
    "SPLIT_PARTS",
    "EvaluationResult",
    "Predictor",
    "evaluate_run",
    "format_summary",
    "select_pairs",
    "summary_markdown",
]
