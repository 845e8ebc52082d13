"""`PredictionOptions`: how a trained segmenter is run over images, validated once.

One frozen record carries the prediction options of ``segment``, ``evaluate``, ``analyze`` and the
attention figures: which checkpoint, tiling, test-time augmentation, threshold, instance-split
overrides, device, backend, databar and pixel-size override. A bad value is a one-line ConfigError
when the record is made, before any work. Options left None take the model's training setting
(`databar_for`, `split_options_for`); `settings` is the record of what was used that every output
writes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sagegan.data.calibration import check_pixel_size
from sagegan.data.databar import DatabarMode
from sagegan.infer.auto_backend import pick_backend
from sagegan.infer.backends import AUTO, InferenceBackend, check_backend_options
from sagegan.infer.device import check_device_name
from sagegan.infer.instances import (
    DEFAULT_MIN_DEPTH_PX,
    DEFAULT_MIN_DISTANCE_PX,
    DEFAULT_MIN_SIZE_PX,
    check_split_options,
    run_split_options,
)
from sagegan.infer.loading import backend_device, load_backend
from sagegan.infer.scaling import predict_at_scale
from sagegan.infer.tiling import Prediction, TtaMode, check_tiling_options, predict_tiled
from sagegan.models.checkpoint import training_databar, training_scale


@dataclass(frozen=True)
class PredictionOptions:
    """The options of a prediction run; the defaults are the command line's.

    ``which``: the run's checkpoint (best, last, best-pretrain, best-gan). ``tile``/``overlap``/
    ``batch_size``/``tta`` go to `predict_tiled`; ``threshold`` and the ``min_*`` overrides to
    `split_instances` (None: the run's ``instances`` settings). ``device``: auto, cpu, cuda or
    cuda:N; ``backend``/``precision``/``onnx_path`` pick the inference backend (`load_backend`;
    "auto": the fastest measured on this machine, see `resolved`).
    ``databar``: "auto", "none" or a row count (None: the model's training setting).
    ``pixel_size_nm`` overrides the files' calibration. ``domain_check``: check each image
    against the model's training images (`sagegan.infer.domain`) when the model records them.
    """

    which: str = "best"
    tile: tuple[int, int] = (512, 512)
    overlap: float = 0.25
    batch_size: int = 1
    tta: TtaMode = "none"
    threshold: float = 0.5
    min_size_px: int | None = None
    min_distance_px: int | None = None
    min_depth_px: float | None = None
    min_size_fraction: float | None = None
    min_depth_fraction: float | None = None
    device: str = "auto"
    backend: str = "auto"
    precision: str = "auto"
    onnx_path: str | Path | None = None
    databar: DatabarMode | None = None
    pixel_size_nm: float | None = None
    domain_check: bool = True

    def __post_init__(self) -> None:
        check_tiling_options(self.tile, self.overlap, self.batch_size, self.tta)
        check_backend_options(self.backend, self.precision)
        check_device_name(self.device)
        check_split_options(
            self.threshold,
            DEFAULT_MIN_DISTANCE_PX if self.min_distance_px is None else self.min_distance_px,
            DEFAULT_MIN_SIZE_PX if self.min_size_px is None else self.min_size_px,
            DEFAULT_MIN_DEPTH_PX if self.min_depth_px is None else self.min_depth_px,
            self.min_size_fraction or 0.0,
            self.min_depth_fraction or 0.0,
        )
        check_pixel_size(self.pixel_size_nm)
        object.__setattr__(self, "tile", (int(self.tile[0]), int(self.tile[1])))

    def run_device(self) -> torch.device:
        """The device the backend runs on; ConfigError when it is unusable on this machine."""
        return backend_device(self.backend, self.device)

    def resolved(self) -> PredictionOptions:
        """These options with an "auto" backend or precision replaced by the fastest that this
        machine runs (`sagegan.infer.auto_backend.pick_backend`, measured once and cached)."""
        if AUTO not in (self.backend, self.precision):
            return self
        backend, precision = pick_backend(
            self.backend, self.precision, self.run_device(), self.onnx_path is not None
        )
        return replace(self, backend=backend, precision=precision)

    def load(
        self, model: str | Path, device: torch.device | None = None
    ) -> tuple[InferenceBackend, dict[str, Any]]:
        """The ``which`` segmenter of ``model`` (run folder, checkpoint folder or weights file) on
        the chosen backend, and its info (`load_backend`)."""
        run_on = self.device if device is None else device
        return load_backend(model, self.which, self.backend, self.precision, run_on, self.onnx_path)

    def predict(
        self, runner: InferenceBackend | torch.nn.Module, image: np.ndarray, scale: float = 1.0
    ) -> Prediction:
        """Tiled prediction of one [-1, 1] image with these tiling options (`predict_tiled`) by a
        loaded backend or a plain module (run on its parameters' device), at the model's working
        resolution ``scale`` (`training_scale`), its maps on the image's grid."""
        if isinstance(runner, InferenceBackend):
            device = runner.device
        else:  # a module without parameters (a fixed stand-in) runs on the CPU
            parameter = next(runner.parameters(), None)
            device = torch.device("cpu") if parameter is None else parameter.device

        def tiled(pixels: np.ndarray) -> Prediction:
            return predict_tiled(
                runner, pixels, self.tile, self.overlap, self.batch_size, self.tta, device=device
            )

        return predict_at_scale(tiled, image, scale)

    def databar_for(self, training_info: dict[str, Any]) -> DatabarMode:
        """The databar mode: this override, else the model's training setting."""
        return training_databar(training_info) if self.databar is None else self.databar

    def split_options_for(self, training_info: dict[str, Any]) -> dict[str, float]:
        """The `split_instances` options: the run's (`run_split_options`) with these overrides."""
        options = run_split_options(
            training_info,
            self.min_size_px,
            self.min_distance_px,
            self.min_depth_px,
            self.min_size_fraction,
            self.min_depth_fraction,
        )
        check_split_options(self.threshold, **options)
        return options

    def settings(self, training_info: dict[str, Any], onnx: str | None = None) -> dict[str, Any]:
        """What a prediction with this model used, as every output records it: tiling, threshold,
        databar mode and instance split (resolved with ``training_info``) and the backend
        (``onnx``: the ONNX file run, for that backend; "auto" resolved to what runs)."""
        used = self.resolved()
        return {
            "tile": list(self.tile),
            "overlap": self.overlap,
            "tta": self.tta,
            "threshold": self.threshold,
            "databar": self.databar_for(training_info),
            "scale": training_scale(training_info),
            "instances": self.split_options_for(training_info),
            "backend": {"name": used.backend, "precision": used.precision, "onnx": onnx},
        }
