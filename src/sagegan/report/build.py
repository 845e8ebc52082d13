"""`write_report`: one self-contained HTML file of a run and its results."""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

import sagegan
from sagegan.errors import ConfigError, DataError, SageganError
from sagegan.models.checkpoint import write_bytes_atomic
from sagegan.report import html
from sagegan.report.analysis_section import analysis_section
from sagegan.report.detect import ResultFolder, detect_results
from sagegan.report.sections import comparison_section, evaluation_section, run_section
from sagegan.report.segmentation import segmentation_section

DEFAULT_TITLE = "sagegan report"


def _builders(max_images: int) -> dict[str, Callable[[Path], html.Section]]:
    return {
        "run": run_section,
        "evaluation": evaluation_section,
        "segmentation": lambda folder: segmentation_section(folder, max_images),
        "comparison": comparison_section,
        "analysis": analysis_section,
    }


def _section(builder: Callable[[Path], html.Section], result: ResultFolder) -> html.Section:
    """The section of ``result``; a value of the wrong kind deep in its files (a text where a
    number belongs) becomes a DataError naming the folder instead of a traceback."""
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


def write_report(
    inputs: Sequence[str | Path],
    out: str | Path,
    title: str | None = None,
    max_images: int = 6,
) -> Path:
    """Write one self-contained HTML report of the results in ``inputs`` to ``out`` (atomically)
    and return its path.

    Each input is a training run, evaluation, segmentation, comparison or analysis folder, or a
    folder holding such folders one level down (e.g. a demo output); a section is made for each,
    in that order. ``max_images`` caps the segmented images shown with overlays. An input holding
    no results is a ConfigError; an unreadable or corrupt result file a DataError naming it.
    """
    if max_images < 0:
        raise ConfigError(f"max_images must be >= 0, got {max_images}")
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; give the report's file name, e.g. report.html")
    results = detect_results(inputs)
    builders = _builders(max_images)
    sections = [_section(builders[result.kind], result) for result in results]
    header = {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        **versions(),
    }
    folders = [str(Path(item).resolve()) for item in inputs]
    document = html.page(title or DEFAULT_TITLE, header, folders, sections)
    write_bytes_atomic(out, document.encode("utf-8"))
    return out
