"""Checking a whole dataset before training: every pair is read and every problem is reported.

`find_degenerate` flags data that reads fine but cannot train a useful segmenter (all-foreground
or inverted masks, masks of specks, images smaller than the patch or too small to validate on);
`sagegan check` reports its findings and `sagegan train` runs it before any training.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from sagegan.data.databar import DatabarMode
from sagegan.data.dataset import load_sample
from sagegan.data.pairing import Pair, UnpairedFilesWarning, find_pairs
from sagegan.errors import ConfigError, DataError

MOSTLY_FOREGROUND = 0.8  # a mask above this foreground fraction looks inverted
SPECK_PX = 2  # instances of at most this area (px) are specks, not particles
MIN_VALIDATION_PX = 32  # a validation image needs at least this many px on each side
MAX_PATCH_AREA_RATIO = 4  # a training patch may have at most 4x the pixels of the largest image


@dataclass(frozen=True)
class MaskStats:
    """What `find_degenerate` needs of one loaded mask (databar already cropped)."""

    stem: str
    shape: tuple[int, int]
    foreground_fraction: float
    n_instances: int
    largest_instance_px: int


@dataclass(frozen=True)
class Finding:
    """One problem of otherwise readable data; `stem` is None for the dataset as a whole."""

    stem: str | None
    severity: Literal["error", "warning"]
    message: str

    def __str__(self) -> str:
        return self.message if self.stem is None else f"{self.stem}: {self.message}"


def mask_stats(stem: str, labels: np.ndarray) -> MaskStats:
    """The `MaskStats` of an instance label map (0 background)."""
    _, areas = np.unique(labels[labels > 0], return_counts=True)
    return MaskStats(
        stem=stem,
        shape=(int(labels.shape[0]), int(labels.shape[1])),
        foreground_fraction=float(np.mean(labels > 0)) if labels.size else 0.0,
        n_instances=int(areas.size),
        largest_instance_px=int(areas.max(initial=0)),
    )


def _is_specks(stats: MaskStats) -> bool:
    return stats.n_instances > 0 and stats.largest_instance_px <= SPECK_PX


def _size_text(shape: tuple[int, int]) -> str:
    return f"{shape[0]}x{shape[1]}"


def _mask_warnings(stats: MaskStats) -> list[str]:
    fraction = stats.foreground_fraction
    if fraction == 1.0:
        return [
            "mask is 100% foreground (no background to tell particles from): inverted mask, "
            "or an RGB mask with a white background (any non-black colour reads as particle)?"
        ]
    if fraction > MOSTLY_FOREGROUND:
        return [
            f"mask is {100 * fraction:.0f}% foreground: looks inverted or all particle "
            "(inverted mask, or an RGB mask with a white background, which reads as particle?)"
        ]
    if _is_specks(stats):
        return [
            f"all {stats.n_instances} particle(s) of the mask are specks of at most {SPECK_PX} px "
            "(noise, or a downscaled mask?)"
        ]
    return []


def _size_warnings(
    stats: MaskStats, patch_size: tuple[int, int] | None, validation: bool | None
) -> list[str]:
    size = _size_text(stats.shape)
    if min(stats.shape) < MIN_VALIDATION_PX and validation is not False:
        where = "validation image" if validation else "image"
        extra = "" if validation else " if it lands in the validation split"
        return [
            f"{where} {size} is under {MIN_VALIDATION_PX} px on a side: "
            f"too small to validate on{extra} (its Dice says little)"
        ]
    small = patch_size is not None and (
        stats.shape[0] < patch_size[0] or stats.shape[1] < patch_size[1]
    )
    if small and not validation:  # validation images are evaluated whole, never patched
        return [
            f"image {size} is smaller than the training patch {_size_text(patch_size)}: "
            "it will be padded"
        ]
    return []


def _oversized_patch(training: list[MaskStats], patch_size: tuple[int, int]) -> list[Finding]:
    """An error when the training patch has over `MAX_PATCH_AREA_RATIO` times the pixels of the
    largest training image: every patch would be mostly padding, at a memory cost that grows
    with the patch (a 4096 px patch on 128 px images took 13.8 GB)."""
    largest = max(training, key=lambda s: s.shape[0] * s.shape[1]).shape
    if patch_size[0] * patch_size[1] <= MAX_PATCH_AREA_RATIO * largest[0] * largest[1]:
        return []
    return [
        Finding(
            None,
            "error",
            f"the training patch {_size_text(patch_size)} is over {MAX_PATCH_AREA_RATIO}x the "
            f"area of the largest training image ({_size_text(largest)}): every patch would be "
            "mostly padding; set data.patch_size no larger than the images",
        )
    ]


def find_degenerate(
    masks: Iterable[MaskStats | tuple[str, np.ndarray]],
    patch_size: tuple[int, int] | int | None = None,
    val_stems: Collection[str] | None = None,
) -> list[Finding]:
    """Findings on loaded masks, given as `MaskStats` or (stem, labels): dataset errors first
    (every training mask all foreground, or all its particles specks), then per-image warnings.

    `patch_size`: the training patch (images smaller than it are reported); `val_stems`: the
    validation stems (None: split unknown, every small image may land in validation). Errors
    look at the training masks, i.e. those not in `val_stems` (all masks if none are left).
    """
    stats = [m if isinstance(m, MaskStats) else mask_stats(*m) for m in masks]
    if isinstance(patch_size, int):
        patch_size = (patch_size, patch_size)
    training = [s for s in stats if val_stems is None or s.stem not in val_stems] or stats
    findings = []
    if training and all(s.foreground_fraction == 1.0 for s in training):
        findings.append(
            Finding(
                None,
                "error",
                f"all {len(training)} masks are 100% foreground: there is no background to "
                "tell particles from (inverted masks, or RGB masks with a white background?)",
            )
        )
    if patch_size is not None and training:
        findings.extend(_oversized_patch(training, patch_size))
    labelled = [s for s in training if s.n_instances > 0]
    if labelled and all(_is_specks(s) for s in labelled):
        findings.append(
            Finding(
                None,
                "error",
                f"every mask's particles are specks of at most {SPECK_PX} px "
                f"({sum(s.n_instances for s in labelled)} in {len(labelled)} masks): nothing to "
                "learn (noise, or downscaled masks?)",
            )
        )
    for s in stats:
        validation = None if val_stems is None else s.stem in val_stems
        findings.extend(
            Finding(s.stem, "warning", message)
            for message in _mask_warnings(s) + _size_warnings(s, patch_size, validation)
        )
    return findings


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
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[FileReport]:
        return [f for f in self.files if f.error is not None]

    @property
    def ok(self) -> bool:
        """No unusable file and no data error; in strict mode also no unpaired file and no data
        warning."""
        if self.errors or any(f.severity == "error" for f in self.findings):
            return False
        return not (self.strict and (self.unpaired or self.findings))

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
        if self.findings:
            n_errors = sum(f.severity == "error" for f in self.findings)
            lines.append(
                f"data findings: {n_errors} error(s), {len(self.findings) - n_errors} warning(s)"
            )
        strict_note = " (--strict: warnings and unpaired files count too)" if self.strict else ""
        lines.append("OK" if self.ok else f"NOT OK: fix the errors above{strict_note}")
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
        if self.findings:
            rows += ["", "Data findings:"]
            rows += [
                f"  {f.severity.upper() if f.severity == 'error' else f.severity}: {f}"
                for f in self.findings
            ]
        return "\n".join([*rows, "", *self._summary()])


def _check_pair(
    pair: Pair, databar: DatabarMode, pixel_size_nm: float | None
) -> tuple[FileReport, MaskStats | None]:
    """The pair's report, and its mask's stats for `find_degenerate` (None if unusable)."""
    report = FileReport(pair.stem, str(pair.image), None if pair.mask is None else str(pair.mask))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sample = load_sample(pair, databar=databar, pixel_size_nm=pixel_size_nm)
        except (DataError, ConfigError) as exc:
            report.error = str(exc)
            return report, None
    report.warnings = [str(w.message) for w in caught]
    report.shape = (sample.image.shape[0] + sample.databar_rows, sample.image.shape[1])
    report.databar_rows = sample.databar_rows
    report.mask_kind = sample.mask_kind
    stats = None if sample.labels is None else mask_stats(pair.stem, sample.labels)
    if stats is not None:
        report.n_instances = stats.n_instances
        report.foreground_fraction = stats.foreground_fraction
    if sample.pixel_size is not None:
        report.pixel_size_nm = sample.pixel_size.nm
        report.pixel_size_source = sample.pixel_size.source
    if report.n_instances == 0:
        report.warnings.append("mask is empty (no particles)")
    # an all-foreground mask is a finding of `find_degenerate`
    if float(np.ptp(sample.image)) == 0.0:
        report.warnings.append("image is constant")
    return report, stats


def check_dataset(
    root: str | Path,
    strict: bool = False,
    databar: DatabarMode = "auto",
    pixel_size_nm: float | None = None,
    progress: bool = True,
    patch_size: tuple[int, int] | int | None = None,
) -> DatasetReport:
    """Read every pair of a dataset folder and collect all problems instead of stopping at the
    first, including the `find_degenerate` findings (`patch_size`: the training patch, if known).
    Errors in the folder structure itself (no images, two files for one stem) still raise
    `DataError`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnpairedFilesWarning)
        pairs = find_pairs(root, strict=False)
    unpaired = [str(w.message) for w in caught if issubclass(w.category, UnpairedFilesWarning)]
    for other in caught:
        if not issubclass(other.category, UnpairedFilesWarning):
            warnings.warn(other.message, other.category, stacklevel=2)
    checked = [
        _check_pair(pair, databar, pixel_size_nm)
        for pair in tqdm(pairs, desc="checking", unit="pair", disable=not progress)
    ]
    files = [report for report, _ in checked]
    findings = find_degenerate([s for _, s in checked if s is not None], patch_size)
    return DatasetReport(str(root), files, unpaired, strict, findings)
