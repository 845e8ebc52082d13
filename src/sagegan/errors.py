"""Errors that sagegan reports to users as one line, naming the file and the problem."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

MAX_LISTED_NAMES = 10  # file names or stems an error names before "(and N more)"
MAX_LISTED_ERRORS = 5  # whole error messages one error gathers before "(and N more)"


class SageganError(Exception):
    """Base class of every error the CLI prints as a single line instead of a traceback."""


class DataError(SageganError, ValueError):
    """Bad input data: unreadable or corrupt file, wrong dtype, mismatched sizes, empty dataset."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path is not None else problem)

    def __reduce__(self) -> tuple[type[DataError], tuple[Path | None, str]]:
        # pickled with its own arguments, e.g. to come back from a worker process
        return type(self), (self.path, self.problem)


class ConfigError(SageganError, ValueError):
    """Invalid configuration value or command-line option."""


def listing(items: Sequence[str], limit: int = MAX_LISTED_NAMES, separator: str = ", ") -> str:
    """The first ``limit`` items joined, then "(and N more)" when there are more."""
    shown = separator.join(items[:limit])
    more = len(items) - limit
    return f"{shown} (and {more} more)" if more > 0 else shown
