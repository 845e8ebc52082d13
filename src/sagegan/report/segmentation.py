"""Report section of a ``sagegan segment`` output folder: counts and calibration of every image,
and for the first few the attention overlay and the instance outlines on the source image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagegan.data.databar import crop_databar
from sagegan.data.io import read_image, read_mask
from sagegan.data.normalize import normalize_image
from sagegan.errors import DataError
from sagegan.infer.overlays import OVERLAY_COLORMAP, outlines_rgb
from sagegan.report import html
from sagegan.report.detect import segmented_stems
from sagegan.report.embed import embed_file, embed_photo
from sagegan.report.epochs import checkpoint_label
from sagegan.report.reading import read_json, require_keys


def read_segmentation(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    """(stem, record) of every image ``sagegan segment`` wrote into ``folder``, by stem."""
    records = []
    for stem in segmented_stems(folder):
        path = folder / f"{stem}.json"
        record = read_json(path)
        require_keys(path, record, {"particle_count": int, "files": dict})
        records.append((stem, record))
    return records


def segmentation_section(folder: Path, max_images: int) -> html.Section:
    """Per-image table of every segmented image, overlays of the first ``max_images`` by stem."""
    records = read_segmentation(folder)
    first = records[0][1]
    facts = {
        "model": f"{first.get('model_name', html.MISSING)} ({first.get('model', html.MISSING)})",
        "checkpoint": checkpoint_label(first.get("checkpoint")),
        "threshold": html.format_value(first.get("threshold")),
        "test-time augmentation": first.get("tta", html.MISSING),
    }
    header = [
        "image",
        "particles",
        "foreground fraction",
        "pixel size (nm)",
        "calibration",
        "size (px)",
        "databar rows cropped",
    ]
    rows = [
        [
            stem,
            record["particle_count"],
            html.format_value(record.get("foreground_fraction")),
            html.format_value(record.get("pixel_size_nm")),
            record.get("pixel_size_source") or "uncalibrated",
            " x ".join(map(str, record.get("shape", []))) or html.MISSING,
            html.format_value(record.get("databar_rows")),
        ]
        for stem, record in records
    ]
    shown = records[:max_images]
    parts = [
        html.key_values(facts),
        html.table(header, rows),
        html.paragraph(
            f"Overlays of {len(shown)} of {len(records)} images (at most {max_images}, by name).",
            True,
        ),
    ]
    for stem, record in shown:
        panels = [_attention(folder, stem, record), _outlines(folder, stem, record)]
        parts += [html.heading(stem), html.image_row(panels)]
    return html.Section(f"Segmentation: {folder}", "".join(parts))


def _attention(folder: Path, stem: str, record: dict[str, Any]) -> str:
    name = record["files"].get("attention")
    if name is None:
        return html.paragraph(f"{stem}: the segmenter has no attention gates", True)
    caption = f"{stem}: attention of the finest gate ({OVERLAY_COLORMAP} colour map, 0 to 1)"
    return html.image(embed_file(folder / name), caption)


def _outlines(folder: Path, stem: str, record: dict[str, Any]) -> str:
    """Instance outlines over the (databar-cropped) source image, or a note saying why not."""
    name = record["files"].get("labels")
    if name is None:
        return html.paragraph(f"{stem}: no instance labels were written", True)
    labels = read_mask(folder / name)
    source = Path(str(record.get("source", "")))
    if not source.is_file():
        return html.paragraph(f"{stem}: source image {source} not found: no outline overlay", True)
    try:
        raw = read_image(source)
    except DataError as err:
        return html.paragraph(f"{err}: no outline overlay", True)
    rows = record.get("databar_rows", 0)
    fits = isinstance(rows, int) and 0 <= rows < raw.shape[0]
    if fits and labels.shape == raw.shape:  # labels at the source's size: databar rows empty
        labels = crop_databar(labels, rows)
    if not fits or (raw.shape[0] - rows, raw.shape[1]) != labels.shape:
        return html.paragraph(
            f"{stem}: source image {source} ({raw.shape[0]} x {raw.shape[1]}, {rows} databar "
            f"rows) does not fit the labels ({labels.shape[0]} x {labels.shape[1]}); "
            "was it changed after segmentation? No outline overlay",
            True,
        )
    image = normalize_image(crop_databar(raw, rows))
    caption = (
        f"{stem}: outlines of the {record['particle_count']} particles on {source.name} "
        "(predicted: yellow)"
    )
    return html.image(embed_photo(outlines_rgb(image, labels, None)), caption)
