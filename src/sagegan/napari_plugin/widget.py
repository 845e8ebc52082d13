"""The sagegan dock widget: segment, correct, save, fine-tune, measure (Plugins > sagegan).

One panel for the human-in-the-loop cycle: choose a model (builtin or a run folder), Segment the
selected image (labels, probability and attention layers in nm), correct the labels with napari's
brushes, Save corrections into a dataset folder, Fine-tune from the current model on the saved
images (a training subprocess, progress bar, Cancel; a cancelled run can be resumed) after which
the new run is the current model, and Measure the particles into a table (also the labels layer's
features) that Save CSV writes. Errors are one line in the panel, never a traceback (unless
``SAGEGAN_DEBUG=1``, as on the command line).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import napari
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sagegan.analysis.particles import ParticleTable
from sagegan.errors import DataError, SageganError
from sagegan.models.builtin import BUILTIN
from sagegan.napari_plugin.corrections import safe_stem, save_correction
from sagegan.napari_plugin.finetune import FINISHED, RUNNING, FineTuneRun, next_run_folder
from sagegan.napari_plugin.layers import calibration_metadata, prediction_layers
from sagegan.napari_plugin.measure import features_of, measure_labels, write_particles_csv
from sagegan.napari_plugin.prediction import Segmenter
from sagegan.napari_plugin.viewer_layers import (
    active_image,
    image_source,
    labels_of,
    layer_pixel_size,
    match_geometry,
    show_layers,
)

LOGGER = logging.getLogger("sagegan")
DEFAULT_ITERATIONS = 300
POLL_MS = 500


def _one_line(action: Callable[..., Any]) -> Callable[..., Any]:
    """Run a button's action, showing a SageganError (or anything unexpected) as one line."""

    @functools.wraps(action)
    def guarded(self: SageganWidget, *args: Any, **kwargs: Any) -> Any:
        try:
            return action(self, *args, **kwargs)
        except SageganError as err:
            self.say(str(err), error=True)
        except Exception as err:
            if os.environ.get("SAGEGAN_DEBUG"):
                raise
            LOGGER.debug("unexpected error", exc_info=True)
            self.say(f"{type(err).__name__}: {' '.join(str(err).split())}", error=True)
        return None

    return guarded


class SageganWidget(QWidget):
    """The dock widget of ``napari_viewer``."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.segmenter: Segmenter | None = None
        self.run: FineTuneRun | None = None
        self.table: ParticleTable | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll_fine_tuning)
        layout = QVBoxLayout(self)
        layout.addWidget(self._model_box())
        layout.addWidget(self._dataset_box())
        layout.addWidget(self._tuning_box())
        layout.addWidget(self._measure_box())
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch()

    # ---- layout -----------------------------------------------------------------------------
    def _button(self, text: str, action: Callable[[], Any]) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(lambda *_: action())
        return button

    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        self.model_edit = QLineEdit(BUILTIN)
        self.model_edit.setToolTip("builtin (the shipped generalist) or a training run folder")
        row = QHBoxLayout()
        row.addWidget(self.model_edit)
        row.addWidget(self._button("Run…", self.choose_model))
        row.addWidget(self._button("Builtin", lambda: self.model_edit.setText(BUILTIN)))
        column = QVBoxLayout(box)
        column.addLayout(row)
        self.segment_button = self._button("Segment", self.segment)
        column.addWidget(self.segment_button)
        return box

    def _dataset_box(self) -> QGroupBox:
        box = QGroupBox("Corrections")
        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("dataset folder (images/ + labels/)")
        row = QHBoxLayout()
        row.addWidget(self.dataset_edit)
        row.addWidget(self._button("…", self.choose_dataset))
        column = QVBoxLayout(box)
        column.addLayout(row)
        self.save_button = self._button("Save corrections", self.save_corrections)
        column.addWidget(self.save_button)
        return box

    def _tuning_box(self) -> QGroupBox:
        box = QGroupBox("Fine-tune")
        form = QFormLayout(box)
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 1_000_000)
        self.iterations.setValue(DEFAULT_ITERATIONS)
        form.addRow("iterations", self.iterations)
        self.tune_button = self._button("Fine-tune", self.fine_tune)
        self.resume_button = self._button("Resume", self.resume_fine_tuning)
        self.cancel_button = self._button("Cancel", self.cancel_fine_tuning)
        row = QHBoxLayout()
        for button in (self.tune_button, self.resume_button, self.cancel_button):
            row.addWidget(button)
        form.addRow(row)
        self.progress = QProgressBar()
        form.addRow(self.progress)
        self._set_running(False)
        self.resume_button.setEnabled(False)
        return box

    def _measure_box(self) -> QGroupBox:
        box = QGroupBox("Particles")
        column = QVBoxLayout(box)
        row = QHBoxLayout()
        self.measure_button = self._button("Measure", self.measure)
        row.addWidget(self.measure_button)
        row.addWidget(self._button("Save CSV…", self.save_csv))
        column.addLayout(row)
        self.table_widget = QTableWidget(0, 0)
        column.addWidget(self.table_widget)
        return box

    # ---- helpers ----------------------------------------------------------------------------
    def say(self, message: str, error: bool = False) -> None:
        """Show one line in the panel (errors in red)."""
        self.status.setStyleSheet("color: #e05050;" if error else "")
        self.status.setText(message)
        (LOGGER.warning if error else LOGGER.info)(message)

    def model(self) -> str:
        return self.model_edit.text().strip() or BUILTIN

    def dataset(self) -> Path:
        text = self.dataset_edit.text().strip()
        if not text:
            raise DataError(None, "choose a dataset folder for the corrections first")
        return Path(text)

    def _set_running(self, running: bool) -> None:
        self.tune_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.resume_button.setEnabled(False)

    # ---- actions ----------------------------------------------------------------------------
    def choose_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Training run folder")
        if folder:
            self.model_edit.setText(folder)

    def choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder for the corrections")
        if folder:
            self.dataset_edit.setText(folder)

    @_one_line
    def segment(self) -> None:
        """Segment the selected image with the current model; show its layers in nm."""
        image = active_image(self.viewer)
        if self.segmenter is None or self.segmenter.model != self.model():
            self.say(f"loading {self.model()}…")
            self.segmenter = Segmenter(self.model())
        source = image_source(image)
        if source is not None:
            prediction = self.segmenter.predict_file(source, name=image.name)
        else:
            prediction = self.segmenter.predict_array(
                image.data, image.name, layer_pixel_size(image)
            )
        nm = prediction.pixel_size_nm
        match_geometry(image, nm, calibration_metadata(prediction.pixel_size))
        show_layers(self.viewer, prediction_layers(prediction, image.name))
        unit = f"{nm:g} nm/px" if nm is not None else "uncalibrated, in pixels"
        count = int(prediction.labels.max(initial=0))
        self.say(f"{image.name}: {count} particles ({unit}) with {self.model()}")
        if prediction.domain_reasons:
            reasons = "; ".join(prediction.domain_reasons)
            self.say(
                f"{image.name} looks unlike the model's training images ({reasons}): "
                "check its labels",
                error=True,
            )

    @_one_line
    def save_corrections(self) -> None:
        """Save the selected image and its (corrected) labels into the dataset folder."""
        dataset = self.dataset()
        image = active_image(self.viewer)
        labels = labels_of(self.viewer, image)
        source = image_source(image)
        pair = save_correction(
            dataset,
            source.stem if source is not None else safe_stem(image.name),
            labels.data,
            source=source,
            image=None if source is not None else image.data,
            pixel_size_nm=layer_pixel_size(image),
        )
        saved = len(list(pair.mask.parent.iterdir()))
        self.say(f"saved {pair.stem}: {saved} corrected images in {dataset}")

    @_one_line
    def fine_tune(self) -> None:
        """Fine-tune the current model on the dataset's corrected images (a subprocess)."""
        dataset = self.dataset()
        run = FineTuneRun(dataset, next_run_folder(dataset), self.model(), self.iterations.value())
        self._start(run)

    @_one_line
    def resume_fine_tuning(self) -> None:
        """Continue the cancelled run from its last checkpoint."""
        if self.run is None:
            return
        self._start(FineTuneRun(self.run.dataset, self.run.out, self.run.init, resume=True))

    def _start(self, run: FineTuneRun) -> None:
        run.start()
        self.run = run
        self._set_running(True)
        self.progress.setRange(0, 0)  # busy until the plan gives the epochs
        self.say(f"fine-tuning {run.init} into {run.out}…")
        self.timer.start()

    @_one_line
    def poll_fine_tuning(self) -> None:
        """Show the run's progress; when it ends, make a finished run the current model."""
        if self.run is None:
            self.timer.stop()
            return
        progress = self.run.poll()
        if progress.fraction is not None:
            self.progress.setRange(0, 100)
            self.progress.setValue(round(100 * progress.fraction))
        if progress.state == RUNNING:
            self.status.setText(progress.message)
            return
        self.timer.stop()
        self._set_running(False)
        if progress.state == FINISHED:
            self.model_edit.setText(str(self.run.out))
            self.segmenter = None
        self.resume_button.setEnabled(progress.state != FINISHED)
        self.say(progress.message, error=progress.state != FINISHED)

    @_one_line
    def cancel_fine_tuning(self) -> None:
        """Stop the running fine-tuning (the run can be resumed)."""
        if self.run is not None:
            self.run.cancel()
            self.poll_fine_tuning()

    @_one_line
    def measure(self) -> None:
        """Measure the particles of the selected image's labels into the table and features."""
        image = active_image(self.viewer)
        labels = labels_of(self.viewer, image)
        nm = layer_pixel_size(labels) or layer_pixel_size(image)
        self.table = measure_labels(labels.data, image.data, nm)
        labels.features = features_of(self.table)
        self._fill_table(self.table)
        self.say(f"{labels.name}: {len(self.table)} particles, lengths in {self.table.unit}")

    def _fill_table(self, table: ParticleTable) -> None:
        rows = table.rows()
        headers = [table.header(name) for name in table.columns]
        self.table_widget.clear()
        self.table_widget.setColumnCount(len(headers))
        self.table_widget.setRowCount(len(rows))
        self.table_widget.setHorizontalHeaderLabels(headers)
        for row, values in enumerate(rows):
            for column, header in enumerate(headers):
                value = values[header]
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                self.table_widget.setItem(row, column, QTableWidgetItem(text))

    @_one_line
    def save_csv(self, path: str | Path | None = None) -> None:
        """Write the measured table as CSV (``path``, else a file chosen in a dialog)."""
        if self.table is None:
            raise DataError(None, "measure the particles first")
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save particles", "particles.csv", "*.csv")
            if not path:
                return
        written = write_particles_csv(path, self.table)
        self.say(f"wrote {len(self.table)} particles to {written}")

    def closeEvent(self, event: Any) -> None:
        """Stop polling; a running fine-tuning is cancelled with the widget."""
        self.timer.stop()
        if self.run is not None:
            self.run.cancel()
        super().closeEvent(event)
