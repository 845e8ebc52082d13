"""Reading and writing microscopy images, binary masks and instance label maps.

Readers never rescale intensities: `read_image` returns the file's own values as float32 (a palette
image goes through its palette, colour goes to luminance). `read_mask` returns int32 instance labels
(0 background, 1..N particles): two-valued masks become 4-connected components, label maps are kept.
Every problem with a file is raised as a one-line `DataError` naming the file.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import tifffile
from PIL import Image
from scipy import ndimage

from sagegan.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sagegan.data.pairing import Pair

TIFF_SUFFIXES = (".tif", ".tiff")
MaskKind = Literal["binary", "instances"]
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
# An 8-bit mask with more than two values is read as instance labels only when at least this share
# of its label values form blobs (most of their pixels have >= 2 same-valued 4-neighbours).
_BLOB_VALUE_SHARE = 0.9
# One pixel limit for every format, checked from the file header before decoding: 2**28 pixels
# (16384 x 16384, 1 GiB as float32) passes any SEM mosaic of today and refuses header bombs.
DEFAULT_MAX_IMAGE_PIXELS = 2**28
MAX_PIXELS_VARIABLE = "SAGEGAN_MAX_IMAGE_PIXELS"


def max_image_pixels() -> int:
    """The pixel limit: ``$SAGEGAN_MAX_IMAGE_PIXELS`` when set (a positive integer), else 2**28."""
    value = os.environ.get(MAX_PIXELS_VARIABLE)
    if value is None:
        return DEFAULT_MAX_IMAGE_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise DataError(MAX_PIXELS_VARIABLE, f"must be a positive integer, got {value!r}")
    return limit


def _check_pixel_count(path: Path, shape: tuple[int, ...]) -> None:
    """Refuse an image whose header claims more pixels than `max_image_pixels` allows."""
    height, width = shape[:2]
    limit = max_image_pixels()
    if height * width > limit:
        raise DataError(
            path,
            f"image is {width} x {height} = {height * width:,} pixels, over the limit of "
            f"{limit:,}; set {MAX_PIXELS_VARIABLE} to read larger images",
        )


def _prepare_parent(path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write_tiff(path: Path, data: np.ndarray, pixel_size_nm: float | None) -> None:
    """A zlib-compressed TIFF; with ``pixel_size_nm``, calibrated for Fiji and napari (ImageJ
    metadata with unit nm, and the resolution tags in pixels per centimetre for other readers)."""
    if pixel_size_nm is None:
        tifffile.imwrite(path, data, compression="zlib")
        return
    if not (np.isfinite(pixel_size_nm) and pixel_size_nm > 0):
        raise ValueError(f"{path}: pixel size must be a positive number of nm, got {pixel_size_nm}")
    imagej = data.dtype in (np.uint8, np.uint16, np.float32)  # the types ImageJ reads
    per_nm = 1.0 / pixel_size_nm
    tifffile.imwrite(
        path,
        data,
        compression="zlib",
        imagej=imagej,
        resolution=(per_nm, per_nm) if imagej else (per_nm * 1e7, per_nm * 1e7),
        resolutionunit=None if imagej else tifffile.RESUNIT.CENTIMETER,
        metadata={"unit": "nm"} if imagej else None,
    )


def write_image(path: str | Path, image: np.ndarray, pixel_size_nm: float | None = None) -> None:
    """Write a 2-D grayscale image: uint8/uint16 keep their values, float becomes float32 TIFF.
    A TIFF carries ``pixel_size_nm`` as its calibration when given."""
    path = _prepare_parent(Path(path))
    if image.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D image, got shape {image.shape}")
    if path.suffix.lower() in (".tif", ".tiff"):
        data = image.astype(np.float32) if np.issubdtype(image.dtype, np.floating) else image
        _write_tiff(path, data, pixel_size_nm)
    else:
        if image.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"{path}: PNG images must be uint8 or uint16, got {image.dtype}")
        Image.fromarray(image).save(path)


def write_mask(path: str | Path, mask: np.ndarray, pixel_size_nm: float | None = None) -> None:
    """Write a binary mask as 0/255 uint8 (PNG or TIFF by suffix); non-zero values are particle.
    A TIFF carries ``pixel_size_nm`` as its calibration when given."""
    write_image(path, (np.asarray(mask) > 0).astype(np.uint8) * np.uint8(255), pixel_size_nm)


def write_labels(path: str | Path, labels: np.ndarray, pixel_size_nm: float | None = None) -> None:
    """Write an instance label map (0 = background, 1..N) as uint16 TIFF (uint32 if N > 65535),
    calibrated with ``pixel_size_nm`` when given."""
    labels = np.asarray(labels)
    dtype = np.uint16 if labels.max(initial=0) <= np.iinfo(np.uint16).max else np.uint32
    path = _prepare_parent(Path(path))
    _write_tiff(path, labels.astype(dtype), pixel_size_nm)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an (..., 3) array, in the input's intensity scale."""
    return (rgb[..., :3].astype(np.float64) @ LUMA_WEIGHTS).astype(np.float32)


def _check_dtype(path: Path, data: np.ndarray) -> None:
    kind = data.dtype.kind
    if kind not in "biuf":
        raise DataError(path, f"unsupported pixel type {data.dtype}")


def _read_tiff_raw(path: Path, palette_indices: bool) -> tuple[np.ndarray, str]:
    """Decode the first full-resolution page of a TIFF; returns (array, kind) with kind in
    'gray' | 'rgb' | 'palette' and colour samples moved to the last axis."""
    with tifffile.TiffFile(path) as tif:
        pages = [page for page in tif.pages if not page.is_reduced]
        if not pages:
            raise DataError(path, "TIFF has no image pages")
        if len(pages) > 1:
            warnings.warn(
                f"{path}: TIFF has {len(pages)} pages; using the first one only",
                stacklevel=4,
            )
        page = pages[0]
        _check_pixel_count(path, (page.imagelength, page.imagewidth))
        data = page.asarray()
        photometric = page.photometric
        if "sample" in page.dims:
            data = np.moveaxis(data, page.dims.index("sample"), -1)
        if photometric == tifffile.PHOTOMETRIC.PALETTE:
            if palette_indices:
                return data, "palette"
            colormap = page.colormap.astype(np.float64)
            if page.bitspersample <= 8 and colormap.max() > 255:
                colormap = colormap / 257.0  # 16-bit palette entries of an 8-bit image
            return _luminance(colormap.T[data]), "gray"
        if photometric in (tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.YCBCR):
            return data, "rgb"
        if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
            if data.dtype.kind not in "ui":
                raise DataError(
                    path, f"min-is-white TIFF with {data.dtype} pixels is not supported"
                )
            return np.iinfo(data.dtype).max - data, "gray"
        if photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, None):
            raise DataError(path, f"unsupported TIFF colour space {photometric.name}")
        return (data[..., 0] if data.ndim == 3 and "sample" in page.dims else data), "gray"


@contextmanager
def _own_pixel_limit() -> Iterator[None]:
    """Pillow's own decompression-bomb limit (warnings over 89 MP, an error over 179 MP) replaced
    by `max_image_pixels` for one read."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _read_pil_raw(path: Path, palette_indices: bool) -> tuple[np.ndarray, str]:
    """Decode a PNG/JPEG/BMP (or any format Pillow reads) like `_read_tiff_raw`."""
    with _own_pixel_limit(), Image.open(path) as img:
        _check_pixel_count(path, (img.height, img.width))
        if getattr(img, "n_frames", 1) > 1:
            warnings.warn(
                f"{path}: file has {img.n_frames} frames; using the first one only", stacklevel=4
            )
        img.load()
        mode = img.mode
        if mode in ("P", "PA"):
            if palette_indices:
                return np.asarray(img.convert("P") if mode == "PA" else img), "palette"
            return np.asarray(img.convert("RGBA")), "rgb"
        if mode in ("RGB", "RGBA", "RGBX", "RGBa"):
            return np.asarray(img), "rgb"
        if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            return np.asarray(img.convert("RGB")), "rgb"
        if mode in ("LA", "La"):
            return np.asarray(img)[..., 0], "gray"
        if mode.startswith("I;16"):
            return np.asarray(img).astype(np.uint16), "gray"
        return np.asarray(img), "gray"


def _read_raw(path: str | Path, palette_indices: bool) -> tuple[Path, np.ndarray, str]:
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    if path.stat().st_size == 0:
        raise DataError(path, "file is empty")
    reader = _read_tiff_raw if path.suffix.lower() in TIFF_SUFFIXES else _read_pil_raw
    try:
        data, kind = reader(path, palette_indices)
    except DataError:
        raise
    except Exception as exc:
        # Decoders of corrupt files raise all kinds of errors (struct, zlib, codec, value errors).
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        raise DataError(path, f"cannot read image ({reason})") from exc
    _check_dtype(path, data)
    if data.size == 0:
        raise DataError(path, f"image has no pixels (shape {data.shape})")
    return path, data, kind


def _require_2d(path: Path, data: np.ndarray) -> np.ndarray:
    if data.ndim != 2:
        raise DataError(
            path, f"expected a 2-D image after conversion to gray, got shape {data.shape}"
        )
    return data


def read_image(path: str | Path) -> np.ndarray:
    """Read a 2-D float32 grayscale image in the file's own intensity scale.

    PNG, JPEG, BMP and TIFF (8/16/32-bit integer or float) are supported. Palette images go through
    the palette, RGB(A) becomes luminance (alpha dropped), a multi-page TIFF gives its first page
    with a warning. Unreadable, empty, complex-valued, non-finite or non-2-D data raise `DataError`.
    """
    path, data, kind = _read_raw(path, palette_indices=False)
    if kind == "rgb":
        if data.ndim != 3 or data.shape[-1] < 3:
            raise DataError(path, f"colour image has unexpected shape {data.shape}")
        data = _luminance(data)
    image = _require_2d(path, data).astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise DataError(path, f"image has {bad} NaN or infinite pixels")
    return image


def _blob_value_share(values: np.ndarray) -> float:
    """Share of the non-zero values whose pixels mostly have >= 2 same-valued 4-neighbours."""
    same = np.zeros(values.shape, dtype=np.uint8)
    vertical = values[1:, :] == values[:-1, :]
    horizontal = values[:, 1:] == values[:, :-1]
    same[1:, :] += vertical
    same[:-1, :] += vertical
    same[:, 1:] += horizontal
    same[:, :-1] += horizontal
    flat = values.ravel().astype(np.int64)
    total = np.bincount(flat)
    blob = np.bincount(flat, weights=(same.ravel() >= 2))
    present = np.flatnonzero(total)
    present = present[present != 0]
    return float(np.mean(blob[present] / total[present] >= 0.5))


def _as_integer_mask(path: Path, data: np.ndarray) -> np.ndarray:
    if data.dtype == bool:
        return data.astype(np.uint8)
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise DataError(path, "float mask has non-integer values; expected 0/1 or labels")
        if data.max(initial=0) > np.iinfo(np.int64).max:
            raise DataError(path, "float mask has values too large for instance labels")
        return data.astype(np.int64)
    return data


def _relabel_if_needed(data: np.ndarray) -> np.ndarray:
    """Return int32 labels; values beyond int32 are renumbered 1..N keeping their order."""
    if data.max(initial=0) <= np.iinfo(np.int32).max:
        return data.astype(np.int32)
    values, inverse = np.unique(data, return_inverse=True)
    offset = 0 if values[0] == 0 else 1
    return (inverse.reshape(data.shape) + offset).astype(np.int32)


def read_mask_with_kind(path: str | Path) -> tuple[np.ndarray, MaskKind]:
    """Like `read_mask`, also saying how the file was read: "binary" (instances are connected
    components) or "instances" (a label map)."""
    path, data, kind = _read_raw(path, palette_indices=True)
    if kind == "rgb":
        data = np.any(data[..., :3] != 0, axis=-1)
    data = _as_integer_mask(path, _require_2d(path, data))
    if data.min(initial=0) < 0:
        raise DataError(path, f"mask has negative values (min {data.min()})")
    values = np.unique(data)
    if values.size <= 2:
        if values.size == 2 and values[0] != 0:
            raise DataError(
                path,
                f"mask has values {values[0]} and {values[1]} but no 0; expected 0 for background",
            )
        labels, _ = ndimage.label(data > 0)
        return labels.astype(np.int32), "binary"
    if data.dtype.itemsize == 1 and _blob_value_share(data) < _BLOB_VALUE_SHARE:
        raise DataError(
            path,
            f"8-bit mask has {values.size} distinct values that do not form label regions "
            "(lossy-compressed, resized or anti-aliased binary mask?); save masks losslessly as "
            "0/255 binary or as a 16-bit instance label map",
        )
    return _relabel_if_needed(data), "instances"


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask as int32 instance labels (0 background, 1..N).

    * Two values (0 and one other, e.g. 0/1, 0/255, bool, a two-entry palette) or RGB(A) (any
      non-zero colour channel is particle): binary, instances are its 4-connected components.
    * 16/32-bit or signed integer with more than two values: an instance label map, kept as is
      (renumbered only when labels exceed int32).
    * 8-bit with more than two values: a label map if its values form blobs, otherwise an error
      (typically a JPEG-compressed, resized or anti-aliased binary mask).
    * Palette masks are read by palette index, not colour.
    """
    return read_mask_with_kind(path)[0]


def read_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Read (image float32, labels int32) of a pair; their shapes must match."""
    if pair.mask is None:
        raise DataError(pair.image, f"no mask for image {pair.stem!r}")
    image = read_image(pair.image)
    labels = read_mask(pair.mask)
    if image.shape != labels.shape:
        raise DataError(
            pair.image,
            f"image shape {image.shape} does not match mask {pair.mask} shape {labels.shape}",
        )
    return image, labels
