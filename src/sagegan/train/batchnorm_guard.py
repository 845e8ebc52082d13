"""Guards of the segmenter's BatchNorm statistics against generated images (``gan.bn_guard``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def guarded_batchnorm(module: nn.Module, guard: str) -> Iterator[None]:
    """Run generated images through S without letting them update its BatchNorm running stats.

    "separate": BatchNorm normalises with the generated batch's own statistics but its momentum is 0
    for the block, so the running statistics (used at validation) see real images only. "frozen" and
    "none" change nothing here ("frozen" keeps BatchNorm in eval mode for the whole stage).
    """
    if guard != "separate":
        yield
        return
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, (momentum, tracked) in zip(norms, saved, strict=True):
            norm.momentum = momentum
            norm.num_batches_tracked.copy_(tracked)


def freeze_batchnorm(module: nn.Module) -> None:
    """Put every BatchNorm layer of ``module`` in eval mode (running stats fixed)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
