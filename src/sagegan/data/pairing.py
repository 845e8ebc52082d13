"""Finding image/mask pairs in a dataset folder and expanding image inputs.

Supported layouts (image extensions: png, jpg, jpeg, bmp, tif, tiff, any letter case):

* Two folders: ``root/images/<stem>.<ext>`` with ``root/masks/<stem>.<ext>`` (extensions may
  differ). When there is no ``masks/`` folder, ``labels/`` is used instead; ``mask_dir`` picks one
  explicitly (simulator datasets carry both: ``masks/`` binary, ``labels/`` exact instances). A
  mask in the mask folder may also carry a mask suffix (``<stem>_mask.png``).
* One folder: images ``X.tif`` or ``X_image.png``/``X_img.png`` next to masks ``X_mask.png``,
  ``X_masks.tif`` (Cellpose) or ``X_label(s).png``.

Stems are compared exactly (case-sensitive). Hidden files and files with other extensions are not
data and are ignored. Files that find no partner are reported in one `UnpairedFilesWarning` (or a
`DataError` with ``strict=True``); two files claiming the same stem are always an error.
"""

from __future__ import annotations

import glob
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sagegan.errors import DataError, listing

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
MASK_SUFFIXES = ("_masks", "_mask", "_labels", "_label")
IMAGE_SUFFIXES = ("_image", "_img")
MASK_FOLDERS = ("masks", "labels")


class UnpairedFilesWarning(UserWarning):
    """Some images or masks of a dataset have no partner and are not used."""


@dataclass(frozen=True)
class Pair:
    """One image and its mask (None when masks are not required and the image has none)."""

    stem: str
    image: Path
    mask: Path | None


def is_image_file(path: Path) -> bool:
    """True for a visible file with one of the supported image extensions."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))


def _strip_suffix(stem: str, suffixes: Sequence[str]) -> str | None:
    for suffix in suffixes:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return None


def mask_image_stems(mask_stem: str) -> tuple[str, ...]:
    """The image stems a mask file named ``mask_stem`` may belong to: its own stem, and the stem
    without a mask suffix such as ``_mask`` when it has one."""
    base = _strip_suffix(mask_stem, MASK_SUFFIXES)
    return (mask_stem,) if base is None else (mask_stem, base)


def _index_unique(files: Iterable[tuple[str, Path]], root: Path, what: str) -> dict[str, Path]:
    """Map key -> file, raising when two files claim the same key."""
    index: dict[str, Path] = {}
    for key, path in files:
        if key in index:
            raise DataError(root, f"two {what} for stem {key!r}: {index[key].name} and {path.name}")
        index[key] = path
    return index


def _listing(paths: Sequence[Path], root: Path) -> str:
    names = [str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in paths]
    return listing(names)


def _match(
    root: Path, images: list[Path], masks: list[tuple[tuple[str, ...], Path]]
) -> tuple[list[Pair], list[Path], list[Path]]:
    """Pair each mask with the image whose stem equals one of the mask's keys (tried in order),
    else whose stem without an image suffix equals one. Returns (pairs, lone images, lone masks)."""
    by_stem = _index_unique(((p.stem, p) for p in images), root, "images")
    stripped: dict[str, list[Path]] = {}
    for path in images:
        base = _strip_suffix(path.stem, IMAGE_SUFFIXES)
        if base is not None:
            stripped.setdefault(base, []).append(path)
    pairs: dict[Path, Pair] = {}
    lone_masks: list[Path] = []
    for keys, mask in masks:
        key = next((k for k in keys if k in by_stem), None)
        if key is not None:
            candidates = [by_stem[key]]
        else:
            key = next((k for k in keys if k in stripped), keys[-1])
            candidates = stripped.get(key, [])
        if len(candidates) > 1:
            names = " and ".join(p.name for p in candidates)
            raise DataError(root, f"mask {mask.name} matches two images: {names}")
        if not candidates:
            lone_masks.append(mask)
            continue
        image = candidates[0]
        if image in pairs:
            other = pairs[image].mask
            raise DataError(root, f"two masks for image {image.name}: {other.name} and {mask.name}")
        pairs[image] = Pair(key, image, mask)
    lone_images = [p for p in images if p not in pairs]
    return list(pairs.values()), lone_images, lone_masks


def _mask_keys(masks: list[Path], require_suffix: bool) -> list[tuple[tuple[str, ...], Path]]:
    """Stems each mask may pair with: in a mask folder its own stem, then the stem without a mask
    suffix; next to the images only the stem without the (required) mask suffix."""
    keyed = []
    for path in masks:
        base = _strip_suffix(path.stem, MASK_SUFFIXES)
        if base is None:
            if not require_suffix:
                keyed.append(((path.stem,), path))
        elif require_suffix:
            keyed.append(((base,), path))
        else:
            keyed.append(((path.stem, base), path))
    return keyed


def _mask_folder(root: Path, mask_dir: str | None) -> Path | None:
    if mask_dir is not None:
        folder = root / mask_dir
        if not folder.is_dir():
            raise DataError(root, f"mask folder {mask_dir!r} not found")
        return folder
    return next((root / name for name in MASK_FOLDERS if (root / name).is_dir()), None)


def _collect(
    root: Path, mask_dir: str | None, require_masks: bool
) -> tuple[list[Pair], list[Path], list[Path]]:
    if (root / "images").is_dir():
        images = _image_files(root / "images")
        folder = _mask_folder(root, mask_dir)
        if folder is None:
            if require_masks:
                raise DataError(root, "has an images/ folder but no masks/ or labels/ folder")
            return [], images, []
        return _match(root, images, _mask_keys(_image_files(folder), require_suffix=False))
    files = _image_files(root)
    keyed = _mask_keys(files, require_suffix=True)
    mask_paths = {p for _, p in keyed}
    return _match(root, [p for p in files if p not in mask_paths], keyed)


def find_pairs(
    root: str | Path,
    strict: bool = False,
    require_masks: bool = True,
    mask_dir: str | None = None,
) -> list[Pair]:
    """Find the image/mask pairs of a dataset folder, sorted by stem.

    With ``require_masks=False`` images without a mask are returned with ``mask=None`` (for
    prediction); otherwise they are unpaired. Unpaired files give one `UnpairedFilesWarning` listing
    them, or a `DataError` with ``strict=True``. No images, or no pairs when masks are required,
    is a `DataError`.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(root, "dataset folder not found")
    pairs, lone_images, lone_masks = _collect(root, mask_dir, require_masks)
    if require_masks and not pairs and lone_images:
        unmatched = f" ({len(lone_masks)} masks match no image)" if lone_masks else ""
        raise DataError(root, f"none of the {len(lone_images)} images has a mask{unmatched}")
    if not require_masks:
        pairs += [Pair(p.stem, p, None) for p in lone_images]
        lone_images = []
    pairs.sort(key=lambda pair: (pair.stem, pair.image.name))
    _index_unique(((pair.stem, pair.image) for pair in pairs), root, "images")
    unpaired = sorted(lone_images + lone_masks)
    if unpaired:
        message = f"{len(unpaired)} unpaired files: {_listing(unpaired, root)}"
        if strict:
            raise DataError(root, message)
        warnings.warn(f"{root}: {message}", UnpairedFilesWarning, stacklevel=2)
    if not pairs:
        raise DataError(root, "no images found")
    return pairs


def find_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand files, folders (non-recursive) and glob patterns into sorted, de-duplicated images.

    An input that matches no image, or a file that is not a supported image type, is a `DataError`.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    found: dict[Path, Path] = {}
    for item in inputs:
        path = Path(item)
        if path.is_file():
            if not is_image_file(path):
                raise DataError(path, "not a supported image file (png, jpg, jpeg, bmp, tif, tiff)")
            matches = [path]
        elif path.is_dir():
            matches = _image_files(path)
        else:
            matches = [Path(m) for m in glob.glob(str(item), recursive=True)]
            matches = [m for m in matches if m.is_file() and is_image_file(m)]
        if not matches:
            raise DataError(path, "no images found")
        for match in matches:
            found.setdefault(match.resolve(), match)
    return sorted(found.values())


LABEL_NAME_ORDER = ("{stem}_labels", "{stem}_label", "{stem}", "{stem}_masks", "{stem}_mask")


def find_label_files(stems: Sequence[str], folder: str | Path) -> dict[str, Path]:
    """The label (or mask) file in ``folder`` of each image stem that has one: the first of
    ``<stem>_labels``, ``<stem>_label``, ``<stem>``, ``<stem>_masks``, ``<stem>_mask`` (any image
    extension) that exists, so that instance labels win over a binary mask (as in `sagegan
    segment` output). Two files of one name with different extensions are a DataError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "label folder not found")
    by_name: dict[str, list[Path]] = {}
    for path in _image_files(folder):
        by_name.setdefault(path.stem, []).append(path)
    found: dict[str, Path] = {}
    for stem in stems:
        for pattern in LABEL_NAME_ORDER:
            files = by_name.get(pattern.format(stem=stem), [])
            if len(files) > 1:
                names = " and ".join(p.name for p in files)
                raise DataError(folder, f"two label files for image {stem}: {names}")
            if files:
                found[stem] = files[0]
                break
    return found
