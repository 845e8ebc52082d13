"""A segmenter loaded once for the viewer's images, predicting as ``sagegan segment`` does.

`Segmenter` loads a run, checkpoint or the builtin model with `PredictionOptions` (the command
line's defaults) and predicts an image file exactly as `segment` does (`load_sample`: databar
cropped, normalised, calibrated by sagegan's rule; `PredictionOptions.predict`; `split_instances`
with the model's settings), or an in-memory image of a napari layer (same databar, normalisation
and split; its pixel size as given). Outputs cover the whole source image: the databar rows are
background, as in `segment`'s files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sagegan.data.calibration import PixelSize, check_pixel_size
from sagegan.data.databar import crop_databar, resolve_databar_rows
from sagegan.data.dataset import load_sample
from sagegan.data.normalize import normalize_image
from sagegan.data.pairing import Pair
from sagegan.errors import DataError
from sagegan.infer.domain import DomainGuard
from sagegan.infer.instances import split_instances
from sagegan.infer.options import PredictionOptions
from sagegan.infer.tiling import Prediction
from sagegan.models.builtin import BUILTIN
from sagegan.models.checkpoint import read_training_info

LAYER_CALIBRATION = "napari layer"  # the pixel size's source for an in-memory image


@dataclass
class ImagePrediction:
    """One segmented image at its source size: instance labels (int32), foreground probability,
    finest attention-gate map and boundary probability (float32; None when the network has no
    gates or no instance head), its calibration, the databar rows left out (background) and why
    it looks unlike the model's training images (`sagegan.infer.domain`; empty: it does not)."""

    name: str
    labels: np.ndarray
    probability: np.ndarray
    attention: np.ndarray | None
    boundary: np.ndarray | None
    pixel_size: PixelSize | None
    databar_rows: int
    model: str
    domain_reasons: list[str] = field(default_factory=list)

    @property
    def pixel_size_nm(self) -> float | None:
        return None if self.pixel_size is None else self.pixel_size.nm


class Segmenter:
    """The model ``model`` (a run folder, checkpoint folder, weights file or "builtin") on the
    backend ``options`` choose (default: the command line's), loaded once."""

    def __init__(self, model: str | Path = BUILTIN, options: PredictionOptions | None = None):
        self.model = str(model)
        self.options = (PredictionOptions() if options is None else options).resolved()
        self.runner, info = self.options.load(self.model, self.options.run_device())
        training_info = read_training_info(Path(info["path"]))
        self.settings = self.options.settings(training_info, info.get("onnx"))
        checked = self.options.domain_check
        self.guard = DomainGuard.for_weights(Path(info["path"])) if checked else None

    def predict_file(self, path: str | Path, name: str | None = None) -> ImagePrediction:
        """Segment the image file ``path`` as `segment` does (its calibration from the file)."""
        path = Path(path)
        sample = load_sample(
            Pair(path.stem, path, None), self.settings["databar"], self.options.pixel_size_nm
        )
        return self._finish(name or path.stem, sample.image, sample.databar_rows, sample.pixel_size)

    def predict_array(
        self, image: np.ndarray, name: str, pixel_size_nm: float | None = None
    ) -> ImagePrediction:
        """Segment the raw 2-D image ``image`` (a layer's data, grey values as acquired) with the
        pixel size ``pixel_size_nm`` (None: pixels; the options' override wins)."""
        raw = np.asarray(image)
        if raw.ndim != 2:
            raise DataError(None, f"{name}: needs a 2-D grayscale image, got shape {raw.shape}")
        raw = raw.astype(np.float32)
        if not np.isfinite(raw).all():
            raise DataError(None, f"{name}: image has NaN or infinite pixels")
        check_pixel_size(pixel_size_nm)
        rows = resolve_databar_rows(raw, self.settings["databar"], None, name=name)
        normalised = normalize_image(crop_databar(raw, rows))
        override = self.options.pixel_size_nm
        nm = override if override is not None else pixel_size_nm
        pixel_size = None if nm is None else PixelSize(float(nm), LAYER_CALIBRATION)
        return self._finish(name, normalised, rows, pixel_size)

    def _finish(
        self, name: str, image: np.ndarray, rows: int, pixel_size: PixelSize | None
    ) -> ImagePrediction:
        """Predict the cropped, normalised ``image``, split it into instances and pad every map
        back to the source image's size."""
        prediction: Prediction = self.options.predict(self.runner, image, self.settings["scale"])
        labels = split_instances(
            prediction.probability,
            self.options.threshold,
            **prediction.instance_maps,
            **self.settings["instances"],
        )
        nm = None if pixel_size is None else pixel_size.nm
        check = None if self.guard is None else self.guard.check(image, nm)
        return ImagePrediction(
            name=name,
            labels=_full_size(labels, rows),
            probability=_full_size(prediction.probability, rows),
            attention=_full_size(prediction.attention, rows),
            boundary=_full_size(prediction.boundary, rows),
            pixel_size=pixel_size,
            databar_rows=rows,
            model=self.model,
            domain_reasons=[] if check is None else check.reasons,
        )


def _full_size(array: np.ndarray | None, rows: int) -> np.ndarray | None:
    """``array`` with ``rows`` background rows appended (where the databar was)."""
    if array is None or not rows:
        return array
    return np.pad(array, ((0, rows), (0, 0)))
