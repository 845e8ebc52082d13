"""Which result folders a report input holds: the folder itself and its sub-folders one level
down (e.g. a demo output holds ``run/``, ``evaluation/`` and ``segmented/``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sagegan.analysis.outputs import ANALYSIS_JSON as ANALYSIS_FILE
from sagegan.compare.tables import JSON_FILE as COMPARISON_FILE
from sagegan.errors import ConfigError
from sagegan.evaluate.outputs import METRICS_FILE as EVALUATION_FILE
from sagegan.models.run_folder import RunFolder

# in the order the report shows them
KINDS = ("run", "evaluation", "segmentation", "comparison", "analysis")
MASK_SUFFIX = "_mask.png"


@dataclass(frozen=True)
class ResultFolder:
    """A folder of results of one kind (a folder may be several, e.g. a run holding metrics)."""

    kind: str
    path: Path


def segmented_stems(folder: Path) -> list[str]:
    """Stems of the images ``sagegan segment`` wrote into ``folder``: ``<stem>.json`` next to
    ``<stem>_mask.png``, sorted."""
    return sorted(
        path.stem
        for path in folder.glob("*.json")
        if path.is_file() and (folder / f"{path.stem}{MASK_SUFFIX}").is_file()
    )


def _kinds(folder: Path) -> list[str]:
    found = {
        "run": RunFolder(folder).looks_like_run(),
        "evaluation": (folder / EVALUATION_FILE).is_file(),
        "segmentation": bool(segmented_stems(folder)),
        "comparison": (folder / COMPARISON_FILE).is_file(),
        "analysis": (folder / ANALYSIS_FILE).is_file(),
    }
    return [kind for kind in KINDS if found[kind]]


def detect_results(inputs: Sequence[str | Path]) -> list[ResultFolder]:
    """Every result folder in ``inputs`` (each once), ordered by kind, then as given; a missing
    input or one holding no results is a ConfigError naming it."""
    if not inputs:
        raise ConfigError("no input folders given for the report")
    found: list[ResultFolder] = []
    seen: set[tuple[str, Path]] = set()
    for item in inputs:
        folder = Path(item)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a folder (give run or result folders)")
        candidates = [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]
        matched = [ResultFolder(kind, path) for path in candidates for kind in _kinds(path)]
        if not matched:
            raise ConfigError(
                f"{folder}: no sagegan results found (expected a training run, an evaluation, "
                "segmentation output, a comparison or an analysis, here or one level down)"
            )
        for result in matched:
            key = (result.kind, result.path.resolve())
            if key not in seen:
                seen.add(key)
                found.append(result)
    return sorted(found, key=lambda result: KINDS.index(result.kind))
