"""Shared fixtures: the real datasets in ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SAGEGAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_dataset(name: str) -> Path:
    """Path of a real dataset in ../shared/data, or skip the test with a clear reason."""
    path = SHARED_DATA / name
    if not (path / "images").is_dir():
        reason = f"real dataset {name!r} not found at {path} (set SAGEGAN_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the real-data tests")
        pytest.skip(reason)
    return path


@pytest.fixture
def tio2_sem() -> Path:
    return shared_dataset("tio2_sem")


@pytest.fixture
def pdc_sem() -> Path:
    return shared_dataset("pdc_sem")


@pytest.fixture
def emps() -> Path:
    return shared_dataset("emps")
