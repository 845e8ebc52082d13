"""The napari dock widget, headless (QT_QPA_PLATFORM=offscreen, set here since CI does not):
segment, edit, save, measure and fine-tune through its buttons.

The widget works on napari's viewer model, so most tests run it on a `ViewerModel` (no OpenGL
canvas); the test in a full viewer (`make_napari_viewer`) needs an OpenGL context and is skipped
with a reason where Qt cannot create one (offscreen without a display: run it under xvfb).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
NEEDS = "the napari plugin's tests need napari, Qt and pytest-qt (pip install .[test])"
napari = pytest.importorskip("napari", reason=NEEDS)
pytest.importorskip("qtpy", reason=NEEDS)
pytest.importorskip("pytestqt", reason=NEEDS)

from napari.components import ViewerModel  # noqa: E402
from napari.layers import Layer  # noqa: E402
from qtpy.QtCore import Qt  # noqa: E402

from sagegan.data.io import read_mask  # noqa: E402
from sagegan.data.pairing import find_pairs  # noqa: E402
from sagegan.napari_plugin.finetune import FINISHED  # noqa: E402
from sagegan.napari_plugin.reader import read_images  # noqa: E402
from sagegan.napari_plugin.widget import SageganWidget  # noqa: E402
from sagegan.synth import SimulatorConfig, write_dataset  # noqa: E402

PIXEL_NM = 2.0
MANIFEST = Path(__file__).parents[1] / "src" / "sagegan" / "napari_plugin" / "napari.yaml"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("napari_widget")
    config = SimulatorConfig(pixel_size_nm=PIXEL_NM)
    return write_dataset(root / "data", n=3, size=(96, 96), seed=5, config=config, progress=False)


def _open(viewer: ViewerModel, path: Path) -> Layer:
    """Open an image with the plugin's reader, as File > Open does."""
    ((data, kwargs, kind),) = read_images(str(path))
    return viewer.add_layer(Layer.create(data, kwargs, kind))


@pytest.fixture
def widget(qtbot) -> SageganWidget:
    panel = SageganWidget(ViewerModel())
    qtbot.addWidget(panel)
    return panel


def _click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_segment_edit_save_and_measure(widget: SageganWidget, qtbot, synth: Path, tmp_path: Path):
    viewer = widget.viewer
    image = _open(viewer, sorted((synth / "images").glob("*.tif"))[0])
    _click(qtbot, widget.segment_button)
    assert "particles (2 nm/px)" in widget.status.text(), widget.status.text()
    names = [f"{image.name} {kind}" for kind in ("probability", "attention", "labels")]
    assert [layer.name for layer in viewer.layers] == [image.name, *names]
    for layer in viewer.layers:
        assert tuple(layer.scale) == (PIXEL_NM, PIXEL_NM)
        assert [str(unit) for unit in layer.units] == ["nanometer", "nanometer"]
    labels = viewer.layers[names[2]]
    before = int(labels.data.max())
    labels.paint((5, 5), before + 1)  # a particle added by hand, at data coordinates
    assert int(labels.data.max()) == before + 1
    _click(qtbot, widget.save_button)
    assert "choose a dataset folder" in widget.status.text()  # one line, no traceback
    dataset = tmp_path / "corrected"
    widget.dataset_edit.setText(str(dataset))
    _click(qtbot, widget.save_button)
    (pair,) = find_pairs(dataset)
    assert pair.stem == image.name and read_mask(pair.mask).max() == before + 1
    _click(qtbot, widget.measure_button)
    assert widget.table_widget.rowCount() == before + 1
    assert "ecd_nm" in [
        widget.table_widget.horizontalHeaderItem(i).text()
        for i in range(widget.table_widget.columnCount())
    ]
    assert list(labels.features["index"]) == list(range(1, before + 2))
    widget.save_csv(tmp_path / "particles.csv")
    assert len((tmp_path / "particles.csv").read_text().splitlines()) == before + 2


def test_errors_are_one_line_in_the_panel(widget: SageganWidget, qtbot, tmp_path: Path):
    _click(qtbot, widget.segment_button)
    assert widget.status.text().endswith("open an image first (File > Open, or drag it in)")
    widget.viewer.add_image(np.zeros((32, 32)), name="blank")
    widget.viewer.add_labels(np.zeros((32, 32), int), name="blank labels")
    widget.dataset_edit.setText(str(tmp_path / "ds"))
    widget.viewer.layers.selection.active = widget.viewer.layers["blank"]
    _click(qtbot, widget.save_button)
    assert "empty" in widget.status.text() and "\n" not in widget.status.text()
    widget.model_edit.setText(str(tmp_path / "no-such-run"))
    _click(qtbot, widget.segment_button)
    assert "no-such-run" in widget.status.text() and "\n" not in widget.status.text()


def test_fine_tuning_makes_the_new_run_the_model(
    widget: SageganWidget, qtbot, synth: Path, tmp_path: Path
):
    dataset = tmp_path / "corrected"
    widget.dataset_edit.setText(str(dataset))
    for path in sorted((synth / "images").glob("*.tif")):
        layer = _open(widget.viewer, path)
        widget.viewer.add_labels(
            read_mask(synth / "labels" / path.name), name=f"{layer.name} labels"
        )
        widget.viewer.layers.selection.active = layer
        _click(qtbot, widget.save_button)
    widget.iterations.setValue(2)
    _click(qtbot, widget.tune_button)
    assert widget.run is not None and widget.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not widget.timer.isActive(), timeout=120_000)
    assert widget.run.poll().state == FINISHED, widget.status.text()
    assert widget.model_edit.text() == str(widget.run.out)
    assert widget.progress.value() == 100 and not widget.cancel_button.isEnabled()
    _click(qtbot, widget.tune_button)  # a second round from the new run, cancelled at once
    assert widget.run.init == str(tmp_path / "corrected-runs" / "tune-01")
    _click(qtbot, widget.cancel_button)
    assert "cancelled" in widget.status.text() and widget.resume_button.isEnabled()
    assert widget.run.process.returncode is not None


def _has_opengl(qapp) -> bool:
    from qtpy.QtGui import QOpenGLContext

    return QOpenGLContext().create()


def test_the_plugin_docks_and_reads_in_a_full_viewer(request, qapp, synth: Path):
    if not _has_opengl(qapp):
        pytest.skip("Qt cannot create an OpenGL context here (offscreen without GL; use xvfb)")
    plugins = request.getfixturevalue("npe2pm")  # the manifest registered as if installed
    viewer = request.getfixturevalue("make_napari_viewer")()
    with plugins.tmp_plugin(manifest=str(MANIFEST)):
        _, panel = viewer.window.add_plugin_dock_widget("sagegan", "sagegan")
        (image,) = viewer.open(sorted((synth / "images").glob("*.tif"))[0], plugin="sagegan")
    assert isinstance(panel, SageganWidget)
    assert tuple(image.scale) == (PIXEL_NM, PIXEL_NM)
    _click(request.getfixturevalue("qtbot"), panel.segment_button)
    assert f"{image.name} labels" in viewer.layers
    assert tuple(viewer.layers[f"{image.name} labels"].scale) == (PIXEL_NM, PIXEL_NM)
