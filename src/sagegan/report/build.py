"""`write_report`: one self-contained HTML file of a run and its results."""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

import sagegan
from sagegan.data.atomic_files import write_bytes_atomic
from sagegan.errors import ConfigError, DataError, SageganError
from sagegan.report import html
from sagegan.report.analysis_section import analysis_section
from sagegan.report.detect import ResultFolder, detect_results
from sagegan.report.evaluation_section import evaluation_section
from sagegan.report.headline import HEADLINES
from sagegan.report.sections import comparison_section, run_section
from sagegan.report.segmentation import segmentation_section
from sagegan.report.summary import summary_section

DEFAULT_TITLE = "sagegan report"
T = TypeVar("T")


def _builders(max_images: int, report_dir: Path) -> dict[str, Callable[[Path], html.Section]]:
    return {
        "run": run_section,
        "evaluation": lambda folder: evaluation_section(folder, report_dir),
        "segmentation": lambda folder: segmentation_section(folder, max_images),
        "comparison": comparison_section,
        "analysis": lambda folder: analysis_section(folder, report_dir),
    }


def _guarded(builder: Callable[[Path], T], result: ResultFolder) -> T:
    """What ``builder`` makes of ``result``; a value of the wrong kind deep in its files (a text
    where a number belongs) becomes a DataError naming the folder instead of a traceback."""
    try:
        return builder(result.path)
    except SageganError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        problem = f"malformed {result.kind} results ({type(err).__name__}: {err})"
        raise DataError(result.path, problem) from None


def versions() -> dict[str, str]:
    """Versions of sagegan, Python, torch and numpy, and the platform."""
    return {
        "sagegan": sagegan.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def _environment(inputs: Sequence[str | Path]) -> html.Section:
    """When and with which versions the report was built, and from which folders."""
    facts = {"created": datetime.now().astimezone().isoformat(timespec="seconds"), **versions()}
    folders = [str(Path(item).resolve()) for item in inputs]
    body = html.key_values(facts) + html.paragraph("Built from:") + html.bullets(folders)
    return html.Section("Environment", body)


def write_report(
    inputs: Sequence[str | Path],
    out: str | Path,
    title: str | None = None,
    max_images: int = 6,
) -> Path:
    """Write one self-contained HTML report of the results in ``inputs`` to ``out`` (atomically)
    and return its path.

    Each input is a training run, evaluation, segmentation, comparison or analysis folder, or a
    folder holding such folders one level down (e.g. a demo output). The page opens with a summary
    card of their headline numbers and warnings, then has a section for each, in that order, and
    ends with the environment (versions). ``max_images`` caps the segmented images shown with
    overlays. An input holding no results is a ConfigError; an unreadable or corrupt result file a
    DataError naming it.
    """
    if max_images < 0:
        raise ConfigError(f"max_images must be >= 0, got {max_images}")
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; give the report's file name, e.g. report.html")
    results = detect_results(inputs)
    headlines = [_guarded(HEADLINES[result.kind], result) for result in results]
    builders = _builders(max_images, out.resolve().parent)
    sections = [_guarded(builders[result.kind], result) for result in results]
    document = html.page(
        title or DEFAULT_TITLE, summary_section(headlines), sections, _environment(inputs)
    )
    write_bytes_atomic(out, document.encode("utf-8"))
    return out
