"""The report leads with the answer: the summary card first (headline numbers with units, flagged
count mismatches), epochs numbered as the files, one heat-map colour map with a colour bar, one
outline convention, and a size that grows with the number of images only."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colormaps
from PIL import Image

from sagegan.analysis import analyze_images
from sagegan.evaluate import evaluate_run
from sagegan.infer import segment_images
from sagegan.infer.overlays import OVERLAY_COLORMAP
from sagegan.report import write_report
from sagegan.report.counts import CountMismatch, count_mismatches, counts_differ
from sagegan.report.epochs import checkpoint_label, epoch_label
from sagegan.train.run_log import save_grid

# a report of micrographs may embed this much per image on average: the demo's 34 images (6
# segmented with 2 overlays each, 6 analysed with 3 figures each, ...) stay under 5 MB
BYTES_PER_IMAGE = 140_000
PAGE_BYTES = 60_000


class _Page(HTMLParser):
    """Sections by id (their text), the classes of table rows and the image sources."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.row_classes: list[str] = []
        self.images: list[str] = []
        self._section: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self._section = values.get("id") or ""
            self.sections[self._section] = ""
        elif tag == "tr":
            self.row_classes.append(values.get("class") or "")
        elif tag == "img":
            self.images.append(values.get("src") or "")

    def handle_data(self, data: str) -> None:
        if self._section is not None:
            self.sections[self._section] += data


def _page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _evaluation(folder: Path) -> Path:
    """metrics.json of three images: 'b' is the issue's case (217 true, 118 predicted), 'c' is off
    by exactly 25 % (not flagged)."""
    folder.mkdir()
    rows = [
        {"name": "a", "n_true": 100, "n_pred": 110, "dice": 0.95, "f1@0.50": 0.9},
        {"name": "b", "n_true": 217, "n_pred": 118, "dice": 0.88, "f1@0.50": 0.6},
        {"name": "c", "n_true": 40, "n_pred": 50, "dice": 0.91, "f1@0.50": 0.8},
    ]
    summary = {
        "n_images": 3,
        "dice_mean": 0.912,
        "dice_sd": 0.0351,
        "f1@0.50_mean": 0.7667,
        "f1@0.50_sd": 0.1528,
        "pq@0.50_mean": 0.7012,
        "pq@0.50_sd": 0.1,
        "n_true_total": 357,
        "n_pred_total": 278,
    }
    record = {
        "protocol": "native",
        "split": "test",
        "data_dir": "/data/tio2",
        "checkpoint": {"stage": "gan", "epoch": 3},
        "summary": summary,
        "per_image": rows,
    }
    (folder / "metrics.json").write_text(json.dumps(record))
    return folder


def _analysis(folder: Path) -> Path:
    folder.mkdir()
    record = {
        "kind": "sagegan-analysis",
        "unit": "nm",
        "calibration_note": "Lengths in nm; pixel sizes: 2 nm/px (TIFF resolution tags).",
        "settings": {"labels": "/data/segmented", "labels_predicted": True},
        "folder": {
            "count": 528,
            "count_measured": 469,
            "ecd_d10_nm": 26.71,
            "ecd_d50_nm": 43.42,
            "ecd_d90_nm": 80.38,
            "density_per_um2": 55.95,
        },
        "images": [{"stem": "a", "count": 528}],
        "failures": [{"path": "/data/x.tif", "message": "x.tif: unreadable image"}],
    }
    (folder / "analysis.json").write_text(json.dumps(record))
    return folder


def test_count_mismatch_rule() -> None:
    assert counts_differ(217, 118) and counts_differ(100, 126) and counts_differ(100, 74)
    assert not counts_differ(100, 125) and not counts_differ(100, 75) and not counts_differ(0, 0)
    assert counts_differ(0, 1)
    rows = [
        {"name": "merged", "n_true": 217, "n_pred": 118},
        {"name": "fine", "n_true": 10, "n_pred": 12},
        {"name": "uncounted", "dice": 0.5},
        {"name": "empty truth", "n_true": 0, "n_pred": 3},
    ]
    assert count_mismatches(rows) == [
        CountMismatch("merged", 217, 118),
        CountMismatch("empty truth", 0, 3),
    ]
    assert CountMismatch("merged", 217, 118).describe() == "merged: 217 true, 118 predicted (-46 %)"
    strict = [CountMismatch("merged", 217, 118), CountMismatch("fine", 10, 12)]
    assert count_mismatches(rows, tolerance=0.1) == [*strict, CountMismatch("empty truth", 0, 3)]


def test_summary_card_comes_first_with_the_headline_numbers_and_flags(tmp_path: Path) -> None:
    evaluation, analysis = _evaluation(tmp_path / "scores"), _analysis(tmp_path / "sizes")
    report = write_report([analysis, evaluation], tmp_path / "report.html")
    page = _page(report)
    ids = list(page.sections)
    assert ids[0] == "summary" and ids[-1] == "environment"
    card = page.sections["summary"]
    # evaluation: per-image mean ± sd over n images, counts, the model's epoch as in its folder
    assert "test Dice0.912 ± 0.035" in card and "test F1 @ IoU 0.50.767 ± 0.153" in card
    assert "test PQ @ IoU 0.50.701 ± 0.100" in card and "over 3 images" in card
    assert "357 / 278" in card and "gan epoch 3 (gan-e0003)" in card
    # analysis: counts, the median ECD with its unit and D10/D90, the density per µm²
    assert "particles528" in card and "median ECD (nm)43.4 (D10 26.7, D90 80.4)" in card
    assert "particles per µm²55.95" in card and "(predicted)" in card
    # warnings: the merged image (not 'c', off by exactly 25 %) and the failed input
    assert "1 of 3 images" in card and "b: 217 true, 118 predicted (-46 %)" in card
    assert "c: 40" not in card and "x.tif: unreadable image" in card
    # the evaluation table marks the flagged image's row only, after readable headers
    evaluation_text = next(text for key, text in page.sections.items() if key.startswith("sec"))
    assert "true / predicted particles" in evaluation_text and "F1 @ IoU 0.5" in evaluation_text
    assert "f1@0.50" not in evaluation_text
    document = report.read_text(encoding="utf-8")
    flagged_row = re.search(r'<tr class="flagged"><td>([^<]*)</td>', document)
    assert flagged_row is not None and flagged_row[1] == "b"
    assert page.row_classes.count("flagged") == 1


def _run_with_best_at(folder: Path, stage: str, epoch: int) -> Path:
    """A run folder holding a log of ``epoch + 1`` epochs of ``stage`` and its pointers."""
    folder.mkdir()
    (folder / "config.yaml").write_text("seed: 0\n")
    lines = [
        {"stage": stage, "epoch": e, "losses": {"seg": 1.0 / (e + 1)}, "val": {"dice": e / 20}}
        for e in range(epoch + 1)
    ]
    (folder / "log.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    pointer = {
        "checkpoint": f"checkpoints/{stage}-e{epoch:04d}",
        "stage": stage,
        "epoch": epoch,
        "metric": "dice",
        "score": epoch / 20,
        "metrics": {"dice": epoch / 20},
    }
    for name in ("best", "last"):
        (folder / f"{name}.json").write_text(json.dumps(pointer))
    return folder


def test_epochs_are_numbered_as_the_checkpoint_folders(tmp_path: Path) -> None:
    assert epoch_label("pretrain", 9) == "pretrain epoch 9"
    assert epoch_label("gan", -1) == "gan, before training"
    assert (
        checkpoint_label({"stage": "pretrain", "epoch": 9}) == "pretrain epoch 9 (pretrain-e0009)"
    )
    assert checkpoint_label({"stage": "gan"}) == "–" and checkpoint_label(None) == "–"
    run = _run_with_best_at(tmp_path / "run", "pretrain", 9)
    page = _page(write_report([run], tmp_path / "report.html"))
    text = "".join(page.sections.values())
    assert "pretrain epoch 9 (pretrain-e0009)" in page.sections["summary"]
    assert "best.jsonpretrain9dice" in text  # pointer, stage, epoch, metric cells
    assert "epoch 10" not in text


def _near(pixels: np.ndarray, colour: np.ndarray, tolerance: float = 12.0) -> int:
    return int((np.abs(pixels - colour).max(axis=-1) <= tolerance).sum())


def test_image_grids_draw_attention_in_the_overlay_colour_map_with_a_colour_bar(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grid.png"
    panel = np.ones((40, 40), dtype=np.float32)
    save_grid(path, {"image": [panel * 0.0], "attention": [panel]})
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    colours = colormaps[OVERLAY_COLORMAP]
    top, middle = (np.array(colours(value)[:3]) * 255 for value in (1.0, 0.5))
    assert _near(pixels, top) > 1000  # the attention panel: 1.0 in the overlay colour map
    assert _near(pixels, middle) > 0  # the colour bar's middle (the panel has no 0.5)
    assert _near(pixels, np.array([127.0, 0.0, 0.0])) == 0  # jet's 1.0


@pytest.fixture(scope="module")
def scored(tiny_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding an evaluation, the segmented test images and their analysis."""
    data, run = tiny_run
    root = tmp_path_factory.mktemp("scored")
    evaluate_run(run, data, out=root / "evaluation", progress=False)
    stems = json.loads((run / "split.json").read_text())["test"]
    images = [data / "images" / f"{stem}.tif" for stem in stems]
    segment_images(images, run, root / "segmented", progress=False)
    analyze_images(images, root / "analysis", labels_dir=root / "segmented", progress=False)
    return root


def test_report_size_grows_with_its_images_and_micrographs_are_jpeg(
    tiny_run: tuple[Path, Path], scored: Path, tmp_path: Path
) -> None:
    _, run = tiny_run
    report = write_report([run, scored], tmp_path / "report.html")
    page = _page(report)
    assert len(page.images) >= 10
    assert report.stat().st_size <= PAGE_BYTES + BYTES_PER_IMAGE * len(page.images)
    jpeg = [src for src in page.images if src.startswith("data:image/jpeg")]
    png = [src for src in page.images if src.startswith("data:image/png")]
    assert len(jpeg) >= 6 and len(png) >= 2 and len(jpeg) + len(png) == len(page.images)


def test_analysis_of_segmented_labels_outlines_them_as_predicted(scored: Path) -> None:
    record = json.loads((scored / "analysis" / "analysis.json").read_text())
    assert record["settings"]["labels_predicted"] is True
    overlays = [f["caption"] for f in record["figures"] if f["file"].endswith("_overlay.png")]
    assert overlays and all("yellow (predicted labels)" in caption for caption in overlays)
