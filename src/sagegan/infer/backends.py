"""Inference backends: how a batch of windows becomes a `SegmentationOutput` on this machine.

A backend is a callable ``batch (N x 1 x H x W float32 tensor) -> SegmentationOutput`` that also
knows the input multiple it pads to (``stride``), the device it runs on, and how to prepare the
network for a run (``prepared()``: eval mode, restored afterwards). `predict_tiled` accepts a
backend or a plain ``nn.Module`` (which runs as the ``eager`` backend). Three backends:

* ``eager``: the module as it is, NCHW float32 under ``torch.inference_mode`` (the reference
  code's way; the baseline of ``benchmarks/speed.py``).
* ``torch`` (default): ``torch.inference_mode`` with the module and its inputs in channels_last
  memory format, float32: the same numbers as ``eager`` (to about 1e-6), faster convolutions.
  ``precision="bf16"`` adds bfloat16 autocast (logits and attention cast back to float32); it
  changes the logits by about 1e-2 and can flip pixels whose probability is near the threshold,
  so it is opt-in. ``torch.compile`` is left out: on the 2-core CPU it took 16-36 s to warm up,
  recompiles for every new window shape, and then ran no faster than channels_last at 512x512
  (1.46 s both) and slower than ONNX Runtime for the paper-size net (1.66 s vs 1.33 s at 512x768;
  see /work/shared/notes/cpu-performance.md).
* ``onnx``: an ONNX Runtime session (CPUExecutionProvider, as many intra-op threads as torch
  uses) on a file written by `sagegan.infer.export.export_onnx`; same outputs as ``eager`` within
  1e-4. Its attention list holds only the finest gate map (all that tiled inference uses).
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from sagegan.errors import ConfigError, DataError
from sagegan.models.blocks import crop_padding, crop_to_level, pad_to_multiple
from sagegan.models.output import SegmentationOutput

BACKENDS = ("torch", "eager", "onnx")
AUTO = "auto"  # backend or precision: the fastest measured on this machine (`auto_backend`)
PRECISIONS = ("fp32", "bf16")
ONNX_INSTALL_HINT = "ONNX backend needs `pip install onnx onnxruntime` (or sagegan[onnx])"
ONNX_METADATA_KEY = "sagegan"
ONNX_INPUT = "image"


def network_stride(model: nn.Module) -> int:
    """The input multiple a segmenter pads to (``2**depth``; 1 for a model without ``depth``)."""
    depth = getattr(model, "depth", 0)
    return 2 ** int(depth) if isinstance(depth, int) else 1


def check_backend_options(backend: str, precision: str) -> None:
    """Raise ConfigError for an unknown backend or precision, or bf16 outside ``torch``."""
    if backend not in (*BACKENDS, AUTO):
        raise ConfigError(
            f"unknown backend {backend!r} (choose from {', '.join((*BACKENDS, AUTO))})"
        )
    if precision not in (*PRECISIONS, AUTO):
        raise ConfigError(
            f"unknown precision {precision!r} (choose from {', '.join((*PRECISIONS, AUTO))})"
        )
    if precision == "bf16" and backend not in ("torch", AUTO):
        raise ConfigError(f"precision {precision} needs the torch backend, not {backend!r}")


class InferenceBackend(ABC):
    """A segmenter ready to run: ``backend(batch) -> SegmentationOutput``."""

    name: ClassVar[str]
    stride: int
    device: torch.device

    @abstractmethod
    def __call__(self, batch: Tensor) -> SegmentationOutput:
        """Logits (N x 1 x H x W, float32) and attention maps of an N x 1 x H x W batch."""

    def prepared(self) -> contextlib.AbstractContextManager[None]:
        """Context in which the backend runs (a module backend: eval mode, then restored)."""
        return contextlib.nullcontext()


class ModuleBackend(InferenceBackend):
    """Common part of the PyTorch backends: the module, its stride and device."""

    def __init__(self, module: nn.Module, device: str | torch.device = "cpu") -> None:
        self.module = module
        self.stride = network_stride(module)
        self.device = torch.device(device)

    @contextlib.contextmanager
    def prepared(self) -> Iterator[None]:
        was_training = self.module.training
        self.module.eval()
        try:
            yield
        finally:
            self.module.train(was_training)


class EagerBackend(ModuleBackend):
    """The module as it is: NCHW float32 under inference mode (the reference's way)."""

    name = "eager"

    def __call__(self, batch: Tensor) -> SegmentationOutput:
        with torch.inference_mode():
            return self.module(batch.to(self.device))


class TorchBackend(ModuleBackend):
    """Inference mode + channels_last, float32 or bfloat16 autocast.

    Converts ``module`` to channels_last in place (its weights keep their values).
    """

    name = "torch"

    def __init__(
        self, module: nn.Module, device: str | torch.device = "cpu", precision: str = "fp32"
    ) -> None:
        check_backend_options(self.name, precision)
        super().__init__(module.to(memory_format=torch.channels_last), device)
        self.precision = precision

    def __call__(self, batch: Tensor) -> SegmentationOutput:
        # a one-channel batch has the same strides in both memory formats: no conversion needed
        x = batch.to(self.device)
        with torch.inference_mode():
            if self.precision == "fp32":
                return self.module(x)
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                output = self.module(x)
            return SegmentationOutput(
                output.logits.float(), [alpha.float() for alpha in output.attention]
            )


def require_onnx() -> None:
    """Raise ConfigError with the install hint when onnx or onnxruntime cannot be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ConfigError(ONNX_INSTALL_HINT) from None


def onnx_session(model: Path | bytes, threads: int | None = None) -> Any:
    """An ONNX Runtime CPU session on a file or serialized model; ``threads`` intra-op threads
    (default: as many as torch uses)."""
    require_onnx()
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    source = str(model) if isinstance(model, Path) else model
    try:
        return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # ONNX Runtime's errors derive from Exception only
        origin = model if isinstance(model, Path) else None
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(origin, f"ONNX Runtime cannot load the model ({first})") from None


class OnnxBackend(InferenceBackend):
    """ONNX Runtime on an exported segmenter (`sagegan.infer.export.export_onnx`).

    Inputs are padded to the stride with the network's own pad mode and outputs cropped back,
    exactly as the PyTorch module does.
    """

    name = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "no such ONNX file")
        self.session = onnx_session(self.path, threads)
        self.metadata = onnx_metadata(self.session, self.path)
        self.stride = int(self.metadata["stride"])
        self.pad_mode = str(self.metadata["pad_mode"])
        self.device = torch.device("cpu")

    def __call__(self, batch: Tensor) -> SegmentationOutput:
        size = (batch.shape[-2], batch.shape[-1])
        x = batch.detach().to("cpu", torch.float32)
        padded, pad = pad_to_multiple(x, self.stride, self.pad_mode)
        outputs = self.session.run(None, {ONNX_INPUT: padded.contiguous().numpy()})
        logits = crop_padding(torch.from_numpy(outputs[0]), pad)
        attention = [
            crop_to_level(torch.from_numpy(alpha), size, padded.shape[-2] // alpha.shape[-2])
            for alpha in outputs[1:]
        ]
        return SegmentationOutput(logits, attention)


def onnx_metadata(session: Any, path: Path | None) -> dict[str, Any]:
    """The sagegan metadata stored in an exported model (stride, pad mode, source weights)."""
    raw = session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
    if raw is None:
        raise DataError(path, "not a sagegan ONNX export (no sagegan metadata)")
    try:
        metadata = dict(json.loads(raw))
        metadata["stride"] = int(metadata["stride"])
        metadata["pad_mode"] = str(metadata["pad_mode"])
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(path, f"unreadable sagegan metadata in ONNX model ({err})") from None
    return metadata


def as_backend(
    model: nn.Module | InferenceBackend, device: str | torch.device = "cpu"
) -> InferenceBackend:
    """``model`` itself when it is a backend; a plain module runs as the eager backend on
    ``device``."""
    if isinstance(model, InferenceBackend):
        return model
    if isinstance(model, nn.Module):
        return EagerBackend(model, device)
    raise ConfigError(
        f"expected a torch module or an inference backend, got {type(model).__name__}"
    )
