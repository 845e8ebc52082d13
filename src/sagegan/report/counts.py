"""The count-mismatch rule of the report: an image whose predicted particle count differs from its
true count by more than `COUNT_TOLERANCE` of the true count (e.g. 217 true, 118 predicted: touching
particles merged) is flagged in the summary card and in the evaluation table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

COUNT_TOLERANCE = 0.25


def counts_differ(n_true: int, n_pred: int, tolerance: float = COUNT_TOLERANCE) -> bool:
    """Whether ``n_pred`` differs from ``n_true`` by more than ``tolerance`` x ``n_true`` (with no
    true particle, any predicted one is a mismatch)."""
    return abs(n_pred - n_true) > tolerance * n_true


@dataclass(frozen=True)
class CountMismatch:
    """One flagged image: its name and its true and predicted particle counts."""

    image: str
    n_true: int
    n_pred: int

    def describe(self) -> str:
        """'synth_0003: 217 true, 118 predicted (-46 %)'."""
        if self.n_true == 0:
            return f"{self.image}: no true particle, {self.n_pred} predicted"
        change = 100.0 * (self.n_pred - self.n_true) / self.n_true
        return f"{self.image}: {self.n_true} true, {self.n_pred} predicted ({change:+.0f} %)"


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return int(value)


def count_mismatches(
    rows: Iterable[Mapping[str, object]], tolerance: float = COUNT_TOLERANCE
) -> list[CountMismatch]:
    """The per-image rows (``name``, ``n_true``, ``n_pred``) whose counts differ by more than
    ``tolerance``, in the order given; rows without both counts are skipped."""
    flagged = []
    for row in rows:
        n_true, n_pred = _count(row.get("n_true")), _count(row.get("n_pred"))
        if n_true is not None and n_pred is not None and counts_differ(n_true, n_pred, tolerance):
            flagged.append(CountMismatch(str(row.get("name", "?")), n_true, n_pred))
    return flagged
