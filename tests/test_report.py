"""`write_report` and `sagegan report`: one self-contained HTML file of a run and its results."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from sagegan.cli import main
from sagegan.compare.tables import aggregate, write_tables
from sagegan.errors import ConfigError, DataError
from sagegan.evaluate import evaluate_run
from sagegan.infer import segment_images
from sagegan.report import write_report
from sagegan.report.curves import read_training_log, training_curves
from sagegan.report.embed import MAX_WIDTH, png_of_file
from sagegan.report.realism import (
    AUGMENTATION_LABEL,
    DISTANCES,
    GATE_LABEL,
    KID_LABEL,
    realism_curve,
)

SECTION_TITLES = ("Training run:", "Evaluation:", "Segmentation:", "Comparison:", "Analysis:")
DATA_URIS = {"data:image/png;base64,": "PNG", "data:image/jpeg;base64,": "JPEG"}


class _Tags(HTMLParser):
    """Every start tag of a document with its attributes, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Tags:
    parser = _Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _image_sources(parsed: _Tags) -> list[str]:
    return [attrs["src"] or "" for tag, attrs in parsed.tags if tag == "img"]


def _write_analysis(folder: Path) -> Path:
    """An ``analyze``-style folder: analysis.json naming one matplotlib figure."""
    figure = Figure(figsize=(3, 2))
    figure.add_subplot().hist([1.0, 2.0, 2.0, 3.5])
    (folder / "figures").mkdir(parents=True)
    figure.savefig(folder / "figures" / "sizes.png")
    document = {
        "kind": "sagegan-analysis",
        "sagegan_version": "0.1.0",
        "unit": "nm",
        "calibration_note": "pixel size from the TIFF tags",
        "settings": {"min_size_px": 10},
        "folder": {"count": 12, "ecd_median_nm": 3.14159, "g_peak_z_image_mean": None},
        "images": [
            {"stem": "first", "count": 5, "ecd_median_nm": 2.71828, "psi6_z": 1.5},
            {"stem": "second", "count": 7, "coverage": 0.123456, "ecd_median_nm": None},
        ],
        "figures": [{"file": "figures/sizes.png", "caption": "size histogram <all> & more"}],
    }
    (folder / "analysis.json").write_text(json.dumps(document))
    return folder


def _write_comparison(folder: Path) -> Path:
    """Comparison files of four made-up runs (two methods, two sizes, one seed each)."""
    runs = [
        {"method": method, "train_images": size, "seed": 0, **scores}
        for method, offset in (("unet", 0.0), ("sage_gan", 0.05))
        for size in (2, 4)
        for scores in [
            {key: 0.5 + offset + size / 100 for key in ("dice", "f1@0.50", "mean_f1", "pq@0.50")}
        ]
    ]
    record = {"preset": "tiny", "metric": "test-set per-image mean", "seeds": [0]}
    write_tables(folder, runs, aggregate(runs), record, n_test=2)
    return folder


@pytest.fixture(scope="module")
def results(tiny_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Result folders of every kind made from the shared tiny run."""
    data, run = tiny_run
    root = tmp_path_factory.mktemp("report_inputs")
    evaluation = root / "evaluation"
    evaluate_run(run, data, out=evaluation, progress=False)
    test_stems = json.loads((run / "split.json").read_text())["test"]
    images = [data / "images" / f"{stem}.tif" for stem in test_stems]
    segmented = segment_images(images, run, root / "segmented", progress=False).out
    return {
        "run": run,
        "evaluation": evaluation,
        "segmented": segmented,
        "comparison": _write_comparison(root / "comparison"),
        "analysis": _write_analysis(root / "analysis"),
        "test_stems": sorted(test_stems),
    }


@pytest.fixture(scope="module")
def report(results: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # given in another order than the report shows them
    kinds = ("analysis", "segmented", "comparison", "evaluation", "run")
    inputs = [results[kind] for kind in kinds]
    return write_report(inputs, tmp_path_factory.mktemp("report") / "report.html")


def test_report_has_a_section_per_kind_in_order_with_contents(report: Path) -> None:
    document = report.read_text(encoding="utf-8")
    assert re.findall(r"<h2>([^<:]+):", document) == [t.rstrip(":") for t in SECTION_TITLES]
    parsed = _parse(report)
    section_ids = [attrs["id"] for tag, attrs in parsed.tags if tag == "section"]
    hrefs = [attrs["href"] or "" for tag, attrs in parsed.tags if tag == "a"]
    assert [href for href in hrefs if href.startswith("#")] == [f"#{i}" for i in section_ids]
    assert section_ids[0] == "summary" and section_ids[-1] == "environment"
    text = "".join(parsed.text)
    for fact in ("sagegan", "python", "torch", "numpy", "platform", "created"):
        assert fact in text


def test_report_is_self_contained_and_every_image_is_a_valid_png_or_jpeg(report: Path) -> None:
    parsed = _parse(report)
    for _, attrs in parsed.tags:
        for name in ("src", "href"):
            value = (attrs.get(name) or "").lower()
            assert not value.startswith(("http:", "https:", "//", "file:", "/")), value
    assert not any(tag == "link" for tag, _ in parsed.tags)
    sources = _image_sources(parsed)
    assert len(sources) >= 8  # curves, attention, 2 x 2 segmentation overlays, plot, analysis
    formats = []
    for source in sources:
        prefix = next(uri for uri in DATA_URIS if source.startswith(uri))
        with Image.open(io.BytesIO(base64.b64decode(source[len(prefix) :]))) as image:
            assert image.format == DATA_URIS[prefix]
            image.load()
            assert 0 < image.width <= MAX_WIDTH
        formats.append(DATA_URIS[prefix])
    # micrographs as JPEG, plots (training curves, the comparison plot, histograms) as PNG
    assert formats.count("JPEG") >= 4 and formats.count("PNG") >= 3


def test_evaluation_and_analysis_values_are_shown_and_escaped(report: Path, results: dict) -> None:
    document = report.read_text(encoding="utf-8")
    summary = json.loads((results["evaluation"] / "metrics.json").read_text())["summary"]
    assert f"{summary['dice_mean']:.4f} ± {summary['dice_sd']:.4f}" in document
    assert "pooled" in document and "protocol" in document
    for stem in results["test_stems"]:
        assert stem in document
    # analysis: 4 significant digits, null as a dash, chosen per-image columns with readable
    # headers (psi6_z is in images.csv only), the CSV tables linked relative to the report
    assert ">3.142<" in document and ">2.718<" in document and ">0.1235<" in document
    assert ">–<" in document
    assert ">area fraction<" in document and ">median ECD (nm)<" in document
    assert "psi6_z" not in document and "<th>ecd_median_nm</th>" not in document
    hrefs = [attrs["href"] or "" for tag, attrs in _parse(report).tags if tag == "a"]
    linked = {(report.parent / href).resolve() for href in hrefs if href.endswith(".csv")}
    assert linked == {(results["evaluation"] / "per_image.csv").resolve()}
    assert "size histogram &lt;all&gt; &amp; more" in document
    assert "<all>" not in document


def test_segmentation_overlays_follow_max_images_and_survive_a_missing_source(
    results: dict, tmp_path: Path
) -> None:
    segmented = tmp_path / "segmented"
    shutil.copytree(results["segmented"], segmented)
    stems = results["test_stems"]
    records = {stem: json.loads((segmented / f"{stem}.json").read_text()) for stem in stems}
    moved = dict(records[stems[0]], source=str(tmp_path / "moved" / "gone.tif"))
    (segmented / f"{stems[0]}.json").write_text(json.dumps(moved))

    every = _parse(write_report([segmented], tmp_path / "every.html", max_images=len(stems)))
    text = "".join(every.text)
    assert "gone.tif not found: no outline overlay" in text
    # an attention map per image, an outline overlay per image but the moved one
    assert len(_image_sources(every)) == 2 * len(stems) - 1
    count = records[stems[1]]["particle_count"]
    assert f"{stems[1]}: outlines of the {count} particles" in text

    one = _parse(write_report([segmented], tmp_path / "one.html", max_images=1))
    text = "".join(one.text)
    assert f"Overlays of 1 of {len(stems)} images" in text
    assert len(_image_sources(one)) == 1  # the moved image's attention map only
    assert all(stem in text for stem in stems)  # the table lists every image


def test_result_folders_are_found_one_level_down_and_once(results: dict, tmp_path: Path) -> None:
    parent = tmp_path / "demo_out"
    parent.mkdir()
    for name in ("evaluation", "comparison"):
        (parent / name).symlink_to(results[name], target_is_directory=True)
    (parent / "notes").mkdir()
    out = write_report([parent, results["comparison"]], tmp_path / "nested.html", title="Mine")
    text = "".join(_parse(out).text)
    assert text.count("Evaluation:") == 2 and text.count("Comparison:") == 2
    assert "Training run:" not in text and "Mine" in text


def test_a_folder_without_results_is_a_config_error(tmp_path: Path) -> None:
    empty = tmp_path / "holiday_photos"
    (empty / "album").mkdir(parents=True)
    with pytest.raises(ConfigError, match="holiday_photos"):
        write_report([empty], tmp_path / "report.html")
    with pytest.raises(ConfigError, match="nowhere"):
        write_report([tmp_path / "nowhere"], tmp_path / "report.html")
    with pytest.raises(ConfigError, match="max_images"):
        write_report([empty], tmp_path / "report.html", max_images=-1)
    assert not (tmp_path / "report.html").exists()


def _bad_run(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.yaml").write_text("seed: 0\n")
    good = {"stage": "pretrain", "epoch": 0, "losses": {"seg": 1.0}, "val": {"dice": 0.5}}
    # a broken line between records (a torn last line alone is dropped with a warning)
    (folder / "log.jsonl").write_text(f"{json.dumps(good)}\n{{truncated\n{json.dumps(good)}\n")
    return folder


def _bad_analysis(folder: Path) -> Path:
    _write_analysis(folder)
    (folder / "figures" / "sizes.png").write_bytes(b"\x89PNG not really")
    return folder


def _bad_metrics(folder: Path) -> Path:
    folder.mkdir()
    (folder / "metrics.json").write_text('{"summary": {}, "per_image": 3}')
    return folder


def _text_for_a_number(folder: Path) -> Path:
    folder.mkdir()
    (folder / "metrics.json").write_text('{"summary": {"dice_mean": "high"}, "per_image": []}')
    return folder


@pytest.mark.parametrize(
    ("make", "bad_file", "problem"),
    [
        (_bad_run, "log.jsonl", "line 2 is not valid JSON"),
        (_bad_analysis, "figures/sizes.png", "unreadable image"),
        (_bad_metrics, "metrics.json", "'per_image' has the wrong type"),
        (_text_for_a_number, "", "malformed evaluation results"),
    ],
)
def test_corrupt_result_files_are_data_errors_naming_them(
    tmp_path: Path, make, bad_file: str, problem: str
) -> None:
    folder = make(tmp_path / "results")
    with pytest.raises(DataError, match=problem) as error:
        write_report([folder], tmp_path / "report.html")
    assert error.value.path == folder / bad_file
    assert "\n" not in str(error.value)


def test_cli_writes_the_report_and_reports_errors_in_one_line(
    results: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    args = ["report", str(results["evaluation"]), "--out", str(out), "--title", "TiO2 <run>"]
    assert main(args) == 0
    assert str(out) in capsys.readouterr().out
    assert "<title>TiO2 &lt;run&gt;</title>" in out.read_text(encoding="utf-8")

    bad = _bad_run(tmp_path / "bad_run")
    assert main(["report", str(bad), "--out", str(tmp_path / "bad.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad / "log.jsonl") in err
    assert "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "bad.html").exists()


def test_training_curves_mark_the_stage_boundary_and_the_best_checkpoint(
    tiny_run: tuple[Path, Path],
) -> None:
    _, run = tiny_run
    records = read_training_log(run / "log.jsonl")
    best = json.loads((run / "best.json").read_text())
    figure = training_curves(records, best)
    validation = figure.axes[-1]
    pretrain_epochs = 1 + max(r["epoch"] for r in records if r["stage"] == "pretrain")
    lines = {line.get_label().split(" (")[0]: line for line in validation.get_lines()}
    star, boundary = lines["best checkpoint"], lines["GAN stage starts"]
    assert {"validation dice", "validation f1@0.5"} <= set(lines)
    offset = pretrain_epochs if best["stage"] == "gan" else 0
    # epochs 0-based as in the file names: the best checkpoint at its own epoch
    assert star.get_xdata()[0] == offset + best["epoch"]
    assert star.get_ydata()[0] == pytest.approx(best["score"])
    assert boundary.get_xdata()[0] == pretrain_epochs - 0.5
    # one small panel per loss term of each stage, then the validation panel
    terms = {(r["stage"], name) for r in records for name in r.get("losses", {})}
    assert len(figure.axes) == len(terms) + 1
    assert all(len(axis.get_lines()) == 1 for axis in figure.axes[:-1])


def test_wide_images_are_downscaled_and_small_pngs_embedded_as_they_are(tmp_path: Path) -> None:
    wide, small = tmp_path / "wide.png", tmp_path / "small.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (100, 2 * MAX_WIDTH), dtype=np.uint8)).save(wide)
    Image.fromarray(rng.integers(0, 256, (20, 30), dtype=np.uint8)).save(small)
    with Image.open(io.BytesIO(png_of_file(wide))) as image:
        assert image.size == (MAX_WIDTH, 50)
    assert png_of_file(small) == small.read_bytes()


def _realism_run(folder: Path, measured: bool, gate: float | None = 0.01) -> Path:
    """A run folder whose log has 2 pretraining and 4 GAN epochs; with ``measured``, the GAN
    epochs hold realism scores (epoch 2 none) and online augmentation is on from epoch 2."""
    folder.mkdir()
    gan_config = "" if gate is None else f"gan:\n  realism_gate_kid: {gate}\n"
    (folder / "config.yaml").write_text(f"seed: 0\n{gan_config}")
    records = [
        {"stage": "pretrain", "epoch": epoch, "losses": {"seg": 1.0}, "val": {"dice": 0.5}}
        for epoch in range(2)
    ]
    for epoch in range(4):
        record = {"stage": "gan", "epoch": epoch, "losses": {"g": 1.0}, "val": {"dice": 0.6}}
        if measured and epoch != 2:
            kid = 0.03 / (epoch + 1)
            distances = {"intensity_w1": 0.1, "histogram_intersection": 0.8, "spectrum_log_l2": 0.3}
            record["realism"] = {"kid": kid, "kid_std": kid / 4, **distances}
        if measured:
            record["online_augmentation"] = epoch >= 2
        records.append(record)
    (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_realism_curve_shows_kid_the_gate_and_the_augmented_epochs(tmp_path: Path) -> None:
    records = read_training_log(_realism_run(tmp_path / "run", measured=True) / "log.jsonl")
    figure = realism_curve(records, gate_kid=0.01)
    kid_axis, distance_axis = figure.axes
    (bars,) = kid_axis.containers  # KID with its error bars
    assert bars.get_label() == KID_LABEL and bars.has_yerr
    kid_line = bars.lines[0]
    assert list(kid_line.get_xdata()) == [0, 1, 3]  # the measured GAN epochs only
    assert kid_line.get_ydata() == pytest.approx([0.03, 0.015, 0.0075])
    gate = next(line for line in kid_axis.get_lines() if line.get_label().startswith(GATE_LABEL))
    assert set(gate.get_ydata()) == {0.01}
    spans = [patch.get_x() for patch in kid_axis.patches]  # epochs 2 and 3, one label
    assert spans == pytest.approx([1.5, 2.5])
    assert kid_axis.get_legend_handles_labels()[1].count(AUGMENTATION_LABEL) == 1
    assert {line.get_label() for line in distance_axis.get_lines()} == set(DISTANCES)
    ungated = realism_curve(records)
    labels = [line.get_label() for line in ungated.axes[0].get_lines()]
    assert not any(label.startswith(GATE_LABEL) for label in labels)


def test_realism_part_only_for_runs_that_measured_it(tmp_path: Path) -> None:
    documents, images = {}, {}
    for measured in (True, False):
        run = _realism_run(tmp_path / f"run_{measured}", measured=measured)
        report = write_report([run], tmp_path / f"report_{measured}.html")
        documents[measured] = report.read_text(encoding="utf-8")
        images[measured] = len(_image_sources(_parse(report)))
    assert "Generator realism" in documents[True]
    assert "online augmentation stays off until KID &lt;= 0.01" in documents[True]
    assert "Generator realism" not in documents[False]  # an old run: no part, no note
    assert images[True] == images[False] + 1


def test_malformed_realism_is_a_data_error_naming_the_log(tmp_path: Path) -> None:
    run = _realism_run(tmp_path / "run", measured=False)
    record = {"stage": "gan", "epoch": 4, "realism": {"kid": "low"}}
    with (run / "log.jsonl").open("a") as log:
        log.write(json.dumps(record) + "\n")
    with pytest.raises(DataError, match="'realism' is not a mapping") as error:
        write_report([run], tmp_path / "report.html")
    assert error.value.path == run / "log.jsonl"
