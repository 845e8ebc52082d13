"""One protocol for the paper's Table 1 and ablation: several methods, seeds and training-set
sizes on the same split, summarised as mean ± sd tables and a Dice-vs-size plot.

Typical use::

    from sagegan.compare import run_comparison

    result = run_comparison("my_data", "comparison", methods=("unet", "sage_gan"), seeds=(0, 1))
    print((result.out / "comparison.md").read_text())
"""

from __future__ import annotations

from sagegan.compare.methods import DEFAULT_METHODS, METHODS, method_config
from sagegan.compare.run import ComparisonResult, run_comparison

__all__ = ["DEFAULT_METHODS", "METHODS", "ComparisonResult", "method_config", "run_comparison"]
