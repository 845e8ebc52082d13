"""Failure guards: non-finite losses, GAN collapse, and proof that the test split is never read."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from sagegan.errors import SageganError

LOGGER = logging.getLogger("sagegan")


class NonFiniteLossError(SageganError):
    """Training stopped after too many consecutive steps with a NaN or infinite loss."""


class TestSplitAccessError(SageganError):
    """Training code asked for an image of the test split."""

    __test__ = False  # not a pytest test class


class NonFiniteGuard:
    """Skips steps whose loss is NaN/inf, remembers the batches' stems, stops after ``patience``."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.consecutive = 0
        self.skipped: list[dict[str, Any]] = []

    def check(self, losses: dict[str, float], stems: Sequence[str], where: str) -> bool:
        """True when every loss is finite; otherwise record the step and return False.

        Raises NonFiniteLossError after ``patience`` consecutive bad steps.
        """
        bad = sorted(name for name, value in losses.items() if not math.isfinite(value))
        if not bad:
            self.consecutive = 0
            return True
        self.consecutive += 1
        record = {"where": where, "losses": bad, "stems": list(stems)}
        self.skipped.append(record)
        LOGGER.warning(
            "skipped a step with non-finite %s at %s (images: %s)",
            ", ".join(bad),
            where,
            ", ".join(stems),
        )
        if self.consecutive >= self.patience:
            raise NonFiniteLossError(
                f"{self.consecutive} consecutive steps with non-finite losses ({', '.join(bad)}) "
                f"at {where}; last images: {', '.join(stems)}"
            )
        return False

    def take_skipped(self) -> list[dict[str, Any]]:
        """The steps skipped since the last call (for the epoch log)."""
        skipped, self.skipped = self.skipped, []
        return skipped

    def state_dict(self) -> dict[str, Any]:
        return {"consecutive": self.consecutive}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.consecutive = int(state["consecutive"])


class CollapseDetector:
    """Warns when the discriminators win outright or the generator's output stops varying.

    Over the last ``window`` iterations: mean D loss below ``d_loss_floor`` (LSGAN D loss is 0.25 at
    chance, 0 when D separates perfectly), or mean per-image standard deviation of G's output below
    ``std_floor`` (a constant image).
    """

    def __init__(self, window: int, d_loss_floor: float = 1e-3, std_floor: float = 1e-3) -> None:
        self.window = window
        self.d_loss_floor = d_loss_floor
        self.std_floor = std_floor
        self.d_losses: deque[float] = deque(maxlen=window)
        self.g_stds: deque[float] = deque(maxlen=window)

    def update(self, d_loss: float, g_std: float) -> str | None:
        """Add one iteration; return a warning message when collapse is detected, else None."""
        self.d_losses.append(d_loss)
        self.g_stds.append(g_std)
        if len(self.d_losses) < self.window:
            return None
        mean_d = sum(self.d_losses) / len(self.d_losses)
        mean_std = sum(self.g_stds) / len(self.g_stds)
        if mean_d < self.d_loss_floor:
            return f"GAN collapse: discriminator loss {mean_d:.2e} over {self.window} iterations"
        if mean_std < self.std_floor:
            return (
                f"GAN collapse: generator output std {mean_std:.2e} over {self.window} iterations"
            )
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"d_losses": list(self.d_losses), "g_stds": list(self.g_stds)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_losses = deque(state["d_losses"], maxlen=self.window)
        self.g_stds = deque(state["g_stds"], maxlen=self.window)


class SplitGuard:
    """Records every stem the trainer reads and refuses stems of the test split."""

    def __init__(self, test_stems: Iterable[str]) -> None:
        self.test_stems = frozenset(test_stems)
        self.read: set[str] = set()

    def allow(self, stem: str) -> None:
        """Record ``stem``; raise TestSplitAccessError if it belongs to the test split."""
        if stem in self.test_stems:
            raise TestSplitAccessError(f"training tried to read test image {stem!r}")
        self.read.add(stem)
