"""Physical pixel size of an image from its metadata, in nanometres.

Sources, in order (the first that gives a value wins; anything else gives None, never a guess):

1. Zeiss SEM TIFF tag 34118: ``ap_image_pixel_size`` (else ``ap_pixel_size``) with its unit.
2. FEI/Thermo TIFF tags 34680/34682: ``[Scan] PixelWidth`` (else ``[EScan]``), in metres.
3. A sidecar ``<stem>.txt`` next to the image:
   * Hitachi (``[SemImageFile]`` style): ``PixelSize=<value>`` in nm.
   * JEOL: ``$$SM_MICRON_BAR <pixels>`` and ``$$SM_MICRON_MARKER <length><unit>`` (e.g. ``5um``);
     pixel size = marker length / bar pixels. When ``$CM_FULL_SIZE <w> <h>`` is given and differs
     from the image's size, the bar was measured on another grid and the result is None.
4. ImageJ TIFF: ``unit=nm|um|micron`` in the description with XResolution in pixels per unit.
5. Resolution tags (TIFF XResolution/ResolutionUnit, PNG pHYs) when the unit is centimetre or inch
   and the implied pixel is smaller than 10 µm (more than 1000 pixels/cm, about 2540 dpi). Coarser
   values are screen or print settings (72, 96, 150, 300, 600 dpi...) and say nothing about the
   specimen. X and Y must agree within 1 %.

Every command calibrates its images by one rule (`pixel_size_of`, `folder_pixel_sizes`): a
``--pixel-size`` override for every image, else each file's metadata as above, else pixels (None).
Images measured together must share a unit: a folder mixing calibrated and uncalibrated images is
refused, naming an uncalibrated file, rather than mixing nm and pixels.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tifffile
from PIL import Image

from sagegan.errors import ConfigError, DataError

NM_PER_UNIT = {
    "pm": 1e-3,
    "a": 0.1,
    "å": 0.1,
    "angstrom": 0.1,
    "nm": 1.0,
    "um": 1e3,
    "µm": 1e3,
    "μm": 1e3,
    "micron": 1e3,
    "microns": 1e3,
    "mm": 1e6,
    "m": 1e9,
}
NM_PER_CM = 1e7
NM_PER_INCH = 2.54e7
# Resolution tags coarser than this pixel size are display/print dpi, not a specimen scale.
MAX_RESOLUTION_TAG_PIXEL_NM = 1e4
USER_OVERRIDE = "user override"  # the source of a --pixel-size calibration
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s.+-][^\s]*)\s*$")


@dataclass(frozen=True)
class PixelSize:
    """Pixel edge length in nanometres and where it came from (for reports)."""

    nm: float
    source: str


def _unit_factor(unit: str) -> float | None:
    return NM_PER_UNIT.get(unit.strip().lower())


def parse_pixel_size(text: str) -> float:
    """Parse a length such as "1.25nm", "0.002 µm", "2e-9m" or "3.1Å" into nanometres.

    A unit is required (pm, Å/A, nm, um/µm/micron, mm, m); anything else raises `ConfigError`.
    """
    match = _QUANTITY.match(str(text))
    factor = _unit_factor(match.group(2)) if match else None
    if match is None or factor is None:
        raise ConfigError(
            f"pixel size {text!r}: expected a positive number with a unit, e.g. '1.25nm', '0.002um'"
        )
    value = float(match.group(1)) * factor
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"pixel size {text!r}: must be positive and finite")
    return value


def _positive(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number > 0 and number != float("inf") else None


def _zeiss(tif: tifffile.TiffFile) -> PixelSize | None:
    metadata = tif.sem_metadata or {}
    for key in ("ap_image_pixel_size", "ap_pixel_size"):
        entry = metadata.get(key)
        if isinstance(entry, tuple) and len(entry) == 3:
            _, value, unit = entry
            factor = _unit_factor(str(unit))
            number = _positive(value)
            if factor is not None and number is not None:
                return PixelSize(number * factor, f"Zeiss SEM metadata ({key})")
    return None


def _fei(tif: tifffile.TiffFile) -> PixelSize | None:
    metadata = tif.fei_metadata or {}
    for section in ("Scan", "EScan"):
        width = _positive(metadata.get(section, {}).get("PixelWidth"))
        if width is not None:
            return PixelSize(width * 1e9, f"FEI metadata ([{section}] PixelWidth)")
    return None


def _imagej(tif: tifffile.TiffFile) -> PixelSize | None:
    metadata = tif.imagej_metadata or {}
    factor = _unit_factor(str(metadata.get("unit", "")).replace("\\u00B5", "µ"))
    if factor is None:
        return None
    resolution = tif.pages[0].resolution
    per_unit = _positive(resolution[0]) if resolution else None
    return None if per_unit is None else PixelSize(factor / per_unit, "ImageJ calibration")


def _from_resolution(
    x_per_unit: float, y_per_unit: float, nm_per_unit: float, source: str
) -> PixelSize | None:
    x_nm = nm_per_unit / x_per_unit
    y_nm = nm_per_unit / y_per_unit
    if x_nm >= MAX_RESOLUTION_TAG_PIXEL_NM or abs(x_nm - y_nm) > 0.01 * x_nm:
        return None
    return PixelSize(x_nm, source)


def _tiff_resolution(tif: tifffile.TiffFile) -> PixelSize | None:
    page = tif.pages[0]
    unit = page.resolutionunit
    nm_per_unit = {
        tifffile.RESUNIT.CENTIMETER: NM_PER_CM,
        tifffile.RESUNIT.INCH: NM_PER_INCH,
    }.get(unit)
    x_res, y_res = (_positive(v) for v in page.resolution)
    if nm_per_unit is None or x_res is None or y_res is None:
        return None
    return _from_resolution(x_res, y_res, nm_per_unit, f"TIFF resolution tags ({unit.name})")


def _png_resolution(path: Path) -> PixelSize | None:
    with Image.open(path) as img:
        dpi = img.info.get("dpi")
    if not dpi:
        return None
    x_dpi, y_dpi = (_positive(v) for v in dpi)
    if x_dpi is None or y_dpi is None:
        return None
    return _from_resolution(x_dpi, y_dpi, NM_PER_INCH, "image resolution (dpi)")


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _sidecar_path(image_path: Path) -> Path | None:
    for suffix in (".txt", ".TXT"):
        candidate = image_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def _image_width(path: Path) -> int | None:
    try:
        with Image.open(path) as img:
            return img.size[0]
    except (OSError, ValueError):
        return None


def parse_sidecar(text: str, image_width: int | None = None) -> PixelSize | None:
    """Pixel size from the text of a Hitachi or JEOL sidecar file, else None."""
    hitachi = re.search(r"^\s*PixelSize\s*=\s*([^\s]+)", text, re.MULTILINE)
    if hitachi:
        value = _positive(hitachi.group(1))
        if value is not None:
            return PixelSize(value, "Hitachi sidecar (PixelSize)")
    bar = re.search(r"^\s*\$\$SM_MICRON_BAR\s+([^\s]+)", text, re.MULTILINE)
    marker = re.search(r"^\s*\$\$SM_MICRON_MARKER\s+(.+?)\s*$", text, re.MULTILINE)
    if not (bar and marker):
        return None
    bar_pixels = _positive(bar.group(1))
    try:
        marker_nm = parse_pixel_size(marker.group(1))
    except ConfigError:
        return None
    full_size = re.search(r"^\s*\$CM_FULL_SIZE\s+(\d+)\s+(\d+)", text, re.MULTILINE)
    if full_size and image_width is not None and int(full_size.group(1)) != image_width:
        return None
    if bar_pixels is None:
        return None
    return PixelSize(marker_nm / bar_pixels, "JEOL sidecar ($$SM_MICRON_BAR)")


def read_pixel_size(path: str | Path) -> PixelSize | None:
    """Pixel size of an image file from its metadata or sidecar, or None when unknown."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    is_tiff = path.suffix.lower() in (".tif", ".tiff")
    try:
        if is_tiff:
            with tifffile.TiffFile(path) as tif:
                embedded = _zeiss(tif) or _fei(tif)
                tagged = _imagej(tif) or _tiff_resolution(tif)
        else:
            embedded, tagged = None, _png_resolution(path)
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise DataError(path, f"cannot read metadata ({' '.join(str(exc).split())})") from exc
    if embedded is not None:
        return embedded
    sidecar = _sidecar_path(path)
    if sidecar is not None:
        from_sidecar = parse_sidecar(_read_text(sidecar), _image_width(path))
        if from_sidecar is not None:
            return PixelSize(from_sidecar.nm, f"{from_sidecar.source} in {sidecar.name}")
    return tagged


def check_pixel_size(pixel_size_nm: float | None) -> None:
    """ConfigError unless ``pixel_size_nm`` is None (uncalibrated) or positive."""
    if pixel_size_nm is not None and not pixel_size_nm > 0:
        raise ConfigError(f"pixel size must be positive, got {pixel_size_nm}")


def pixel_size_of(path: str | Path, override_nm: float | None = None) -> PixelSize | None:
    """The calibration of one image: ``override_nm`` when given, else the file's metadata
    (`read_pixel_size`), else None (lengths stay in pixels)."""
    check_pixel_size(override_nm)
    if override_nm is not None:
        return PixelSize(float(override_nm), USER_OVERRIDE)
    return read_pixel_size(path)


def folder_pixel_sizes(
    paths: Sequence[str | Path],
    override_nm: float | None = None,
    failures: list[tuple[Path, str]] | None = None,
) -> dict[Path, PixelSize | None]:
    """The calibration of images measured together (`pixel_size_of` for each): all calibrated or
    all in pixels. Some calibrated and some not is a DataError naming the first uncalibrated file
    (its lengths would be in another unit). With ``failures``, a file whose metadata cannot be
    read is appended there as (path, message) and left out, instead of raising."""
    sizes = {}
    for path in map(Path, paths):
        try:
            sizes[path] = pixel_size_of(path, override_nm)
        except DataError as err:
            if failures is None:
                raise
            failures.append((path, str(err)))
    missing = [path for path, size in sizes.items() if size is None]
    if missing and len(missing) < len(sizes):
        raise DataError(
            missing[0],
            f"no pixel size, but {len(sizes) - len(missing)} other images are calibrated; give "
            "--pixel-size or process calibrated and uncalibrated images separately",
        )
    return sizes
