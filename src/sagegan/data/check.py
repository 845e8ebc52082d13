"""Checking a whole dataset before training: every pair is read and every problem is reported."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sagegan.data.databar import DatabarMode
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import Pair, UnpairedFilesWarning, find_pairs
from sagegan.errors import ConfigError, DataError


@dataclass
class FileReport:
    """What was found for one pair; `error` is set when it cannot be used."""

    stem: str
    image: str
    mask: str | None
    shape: tuple[int, int] | None = None
    databar_rows: int = 0
    mask_kind: str | None = None
    n_instances: int = 0
    foreground_fraction: float = 0.0
    pixel_size_nm: float | None = None
    pixel_size_source: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class DatasetReport:
    """Per-file results and dataset-level notes; `ok` is False when any file is unusable (or, in
    strict mode, when files are unpaired)."""

    root: str
    files: list[FileReport]
    unpaired: list[str] = field(default_factory=list)
    strict: bool = False

    @property
    def errors(self) -> list[FileReport]:
        return [f for f in self.files if f.error is not None]

    @property
    def ok(self) -> bool:
        return not self.errors and not (self.strict and self.unpaired)

    def to_dict(self) -> dict:
        """JSON-ready dict of the whole report."""
        return {"ok": self.ok, **asdict(self)}

    def _summary(self) -> list[str]:
        good = [f for f in self.files if f.error is None]
        lines = [
            f"{len(self.files)} pairs, {len(self.errors)} with errors, "
            f"{sum(bool(f.warnings) for f in self.files)} with warnings",
        ]
        if good:
            shapes = sorted({f.shape for f in good if f.shape is not None})
            lines.append(
                f"shapes: {len(shapes)} distinct, " + ", ".join(f"{h}x{w}" for h, w in shapes[:5])
            )
            lines.append(
                f"instances: {sum(f.n_instances for f in good)} total; foreground "
                f"{100 * float(np.mean([f.foreground_fraction for f in good])):.1f}% on average"
            )
            sizes = sorted({round(f.pixel_size_nm, 4) for f in good if f.pixel_size_nm})
            unknown = sum(f.pixel_size_nm is None for f in good)
            lines.append(
                f"pixel size (nm): {', '.join(map(str, sizes)) or '-'}; unknown on {unknown} images"
            )
            lines.append(f"databar cropped on {sum(f.databar_rows > 0 for f in good)} images")
        lines.extend(f"unpaired: {message}" for message in self.unpaired)
        lines.append("OK" if self.ok else "NOT OK: fix the errors above")
        return lines

    def to_text(self) -> str:
        """A readable table (one row per pair) followed by problems and a summary."""
        header = (
            f"{'stem':<24} {'size':>11} {'bar':>4} {'mask':<9} {'inst':>5} {'fg%':>5}  pixel size"
        )
        rows = [f"Dataset {self.root}", header, "-" * len(header)]
        for f in self.files:
            if f.error is not None:
                rows.append(f"{f.stem[:24]:<24} ERROR {f.error}")
                continue
            size = f"{f.shape[0]}x{f.shape[1]}" if f.shape else "-"
            pixel = f"{f.pixel_size_nm:.4g} nm ({f.pixel_size_source})" if f.pixel_size_nm else "-"
            rows.append(
                f"{f.stem[:24]:<24} {size:>11} {f.databar_rows:>4} {f.mask_kind or '-':<9} "
                f"{f.n_instances:>5} {100 * f.foreground_fraction:>5.1f}  {pixel}"
            )
        notes = [f"  {f.stem}: {w}" for f in self.files for w in f.warnings]
        if notes:
            rows += ["", "Warnings:", *notes]
        return "\n".join([*rows, "", *self._summary()])


def _check_pair(pair: Pair, databar: DatabarMode, pixel_size_nm: float | None) -> FileReport:
    report = FileReport(pair.stem, str(pair.image), None if pair.mask is None else str(pair.mask))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sample = load_sample(pair, databar=databar, pixel_size_nm=pixel_size_nm)
        except (DataError, ConfigError) as exc:
            report.error = str(exc)
            return report
    report.warnings = [str(w.message) for w in caught]
    labels = sample.labels
    report.shape = (sample.image.shape[0] + sample.databar_rows, sample.image.shape[1])
    report.databar_rows = sample.databar_rows
    report.mask_kind = sample.mask_kind
    report.n_instances = int(np.unique(labels[labels > 0]).size)
    report.foreground_fraction = float(np.mean(labels > 0))
    if sample.pixel_size is not None:
        report.pixel_size_nm = sample.pixel_size.nm
        report.pixel_size_source = sample.pixel_size.source
    if report.n_instances == 0:
        report.warnings.append("mask is empty (no particles)")
    elif report.foreground_fraction == 1.0:
        report.warnings.append("mask is all foreground")
    if float(np.ptp(sample.image)) == 0.0:
        report.warnings.append("image is constant")
    return report


def check_dataset(
    root: str | Path,
    strict: bool = False,
    databar: DatabarMode = "auto",
    pixel_size_nm: float | None = None,
    progress: bool = True,
) -> DatasetReport:
    """Read every pair of a dataset folder and collect all problems instead of stopping at the
    first. Errors in the folder structure itself (no images, two files for one stem) still raise
    `DataError`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnpairedFilesWarning)
        pairs = find_pairs(root, strict=False)
    unpaired = [str(w.message) for w in caught if issubclass(w.category, UnpairedFilesWarning)]
    for other in caught:
        if not issubclass(other.category, UnpairedFilesWarning):
            warnings.warn(other.message, other.category, stacklevel=2)
    files = [
        _check_pair(pair, databar, pixel_size_nm)
        for pair in tqdm(pairs, desc="checking", unit="pair", disable=not progress)
    ]
    return DatasetReport(str(root), files, unpaired, strict)
