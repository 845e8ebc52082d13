"""Export a trained segmenter to ONNX for the ``onnx`` inference backend.

The graph is the segmenter's ``forward_padded``: input ``image``, N x 1 x H x W float32 with H and
W multiples of the network stride and intensities normalised as sagegan reads images (databar
cropped, 0.5/99.5 percentiles mapped to -1/1, clipped); outputs ``logits`` (N x C x H x W:
foreground, then the boundary and centre map of an instance head) and, for networks with
attention gates, ``attention`` (the finest gate map, N x 1 x H x W in [0, 1]).
Batch, height and width are dynamic; `OnnxBackend` pads other sizes as the network does.

Exporter: torch's TorchScript-based ``torch.onnx.export(..., dynamo=False)``. It runs offline with
no package beyond onnx on every torch this project supports (>= 2.2); torch 2.9+ deprecates it in
favour of the torch.export-based exporter, which needs onnxscript. Tracing turns Python-level
shape decisions into constants, hence the graph is ``forward_padded`` (no padding or cropping
inside), and every export is run by ONNX Runtime against PyTorch on two input shapes (different
batch, height and width) before it is written: a larger difference than ``TOLERANCE`` raises.

Files: the model (default ``RUN/export/segmenter.onnx``, ``segmenter-last.onnx`` for the last
checkpoint) and a JSON sidecar next to it (``segmenter.json``). The model's ``sagegan`` metadata
holds stride, pad mode and the sha256 of the source weights, so an export made before the run
trained on is recognised as stale (`current_onnx_export` then exports again).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import sagegan
from sagegan.data.atomic_files import write_bytes_atomic, write_json_atomic
from sagegan.errors import ConfigError, DataError
from sagegan.infer.backends import (
    ONNX_INPUT,
    ONNX_METADATA_KEY,
    network_stride,
    onnx_session,
    require_onnx,
)
from sagegan.models.blocks import PaddedSegmenter
from sagegan.models.builtin import builtin_cache, is_builtin
from sagegan.models.checkpoint import checkpoint_record, load_model, segmenter_weights
from sagegan.models.run_folder import SEGMENTER_FILE

LOGGER = logging.getLogger("sagegan")
EXPORT_DIR = "export"
DEFAULT_OPSET = 17
TOLERANCE = 1e-4
# (batch, height, width) of the verification inputs, rounded up to the stride.
VERIFY_SHAPES = ((1, 64, 96), (2, 96, 64))
INPUT_NOTE = (
    "N x 1 x H x W float32, H and W multiples of the stride; intensities as sagegan reads "
    "images: databar cropped, 0.5/99.5 percentiles mapped to -1/1, clipped"
)


class ExportGraph(nn.Module):
    """The traced graph: a segmenter's ``forward_padded`` returning the logits and, for a gated
    network, only its finest attention map."""

    def __init__(self, segmenter: PaddedSegmenter) -> None:
        super().__init__()
        self.segmenter = segmenter.eval()
        stride = network_stride(segmenter)
        with torch.inference_mode():  # 2 x stride: instance norm needs a bottleneck over 1 x 1
            _, attention = segmenter.forward_padded(torch.zeros(1, 1, 2 * stride, 2 * stride))
        self.gated = bool(attention)
        self.eval()

    @property
    def output_names(self) -> list[str]:
        return ["logits", "attention"] if self.gated else ["logits"]

    def forward(self, image: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        logits, attention = self.segmenter.forward_padded(image)
        return (logits, attention[-1]) if self.gated else logits


def default_onnx_path(model_path: str | Path, which: str = "best") -> Path:
    """Where an export goes by default: ``RUN/export/segmenter.onnx`` (``segmenter-<which>.onnx``
    for another pointer), ``CHECKPOINT/export/segmenter.onnx``, or ``export/<stem>.onnx`` next
    to a weights file; the builtin model's goes to its cache folder (`builtin_cache`)."""
    if is_builtin(model_path):
        return builtin_cache() / EXPORT_DIR / "segmenter.onnx"
    path = Path(model_path)
    if path.is_file():
        return path.parent / EXPORT_DIR / f"{path.stem}.onnx"
    if (path / SEGMENTER_FILE).is_file() or which == "best":
        return path / EXPORT_DIR / "segmenter.onnx"
    return path / EXPORT_DIR / f"segmenter-{which}.onnx"


def sidecar_path(onnx_path: str | Path) -> Path:
    """The JSON written next to an export (same name, ``.json``)."""
    return Path(onnx_path).with_suffix(".json")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_onnx(
    run_or_weights: str | Path,
    out: str | Path | None = None,
    which: str = "best",
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export the segmenter of a run (its ``which`` checkpoint), checkpoint folder or weights
    file to ONNX with dynamic batch/height/width; write the model and its JSON sidecar.

    Raises DataError when ``out`` cannot be written or ONNX Runtime's outputs differ from
    PyTorch's by more than ``TOLERANCE`` (relative to the logit scale when that exceeds 1).
    """
    require_onnx()
    out = Path(out) if out is not None else default_onnx_path(run_or_weights, which)
    if out.suffix != ".onnx":
        raise DataError(out, "the export file name must end in .onnx")
    if out.is_dir():
        raise DataError(out, "is a folder; give the .onnx file to write")
    model, info = load_model(run_or_weights, which=which)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(out, f"cannot create its folder ({err.strerror or err})") from None
    if not isinstance(model, PaddedSegmenter):
        raise ConfigError(f"{info['path']}: {info['model']} is not a segmenter; cannot export it")
    graph = ExportGraph(model)
    stride = network_stride(model)
    weights = Path(info["path"])
    metadata = {
        "model": info["model"],
        "model_kwargs": info.get("model_kwargs", {}),
        "stride": stride,
        "pad_mode": model.pad_mode,
        "outputs": graph.output_names,
        "weights": str(weights),
        "weights_sha256": file_sha256(weights),
        "checkpoint": checkpoint_record(info),
        "sagegan_version": sagegan.__version__,
    }
    payload = _export_bytes(graph, opset, metadata)
    verification = _verify(graph, payload, stride, weights)
    try:
        write_bytes_atomic(out, payload)
    except OSError as err:
        raise DataError(out, f"cannot write the ONNX export ({err.strerror or err})") from None
    write_json_atomic(sidecar_path(out), _sidecar(out, metadata, opset, verification))
    LOGGER.debug(
        "exported %s to %s (max |diff| vs PyTorch %.2g)", weights, out, verification["max_abs_diff"]
    )
    return out


def benchmark_onnx(segmenter: PaddedSegmenter, out: Path, opset: int = DEFAULT_OPSET) -> Path:
    """Export an in-memory segmenter (no weights file, no verification) to ``out``: for timing
    ONNX Runtime against PyTorch (`sagegan.infer.auto_backend`), never for predictions."""
    graph = ExportGraph(segmenter)
    metadata = {
        "model": type(segmenter).__name__,
        "stride": network_stride(segmenter),
        "pad_mode": segmenter.pad_mode,
        "outputs": graph.output_names,
    }
    write_bytes_atomic(out, _export_bytes(graph, opset, metadata))
    return out


def current_onnx_export(model_path: str | Path, which: str = "best") -> Path:
    """The default export of ``model_path``'s ``which`` checkpoint, exported first (with a log
    line) when it is missing or was made from other weights."""
    path = default_onnx_path(model_path, which)
    digest = file_sha256(segmenter_weights(model_path, which))
    if path.is_file() and _recorded_sha256(sidecar_path(path)) == digest:
        return path
    reason = "no ONNX export yet" if not path.is_file() else "the ONNX export is stale"
    LOGGER.info("%s: exporting %s to %s", reason, model_path, path)
    return export_onnx(model_path, path, which)


def _export_bytes(graph: ExportGraph, opset: int, metadata: dict[str, Any]) -> bytes:
    """Trace ``graph`` to a serialized ONNX model carrying ``metadata``."""
    import onnx

    stride = metadata["stride"]
    example = torch.zeros(1, 1, 4 * stride, 4 * stride)
    dynamic = {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter's deprecation notice and its tracer's notes on shape-dependent
        # Python branches; `_verify` checks the result on other shapes
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            graph,
            (example,),
            buffer,
            dynamo=False,
            opset_version=opset,
            training=torch.onnx.TrainingMode.EVAL,
            input_names=[ONNX_INPUT],
            output_names=graph.output_names,
            dynamic_axes={name: dynamic for name in [ONNX_INPUT, *graph.output_names]},
        )
    proto = onnx.load_from_string(buffer.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(metadata)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _verify(graph: ExportGraph, payload: bytes, stride: int, source: Path) -> dict[str, Any]:
    """Run PyTorch and ONNX Runtime on random [-1, 1] inputs; raise DataError naming the
    ``source`` weights when they disagree."""
    session = onnx_session(payload)
    generator = torch.Generator().manual_seed(0)
    logit_diff = attention_diff = logit_scale = 0.0
    shapes = []
    for batch, height, width in VERIFY_SHAPES:
        shape = (batch, 1, -(-height // stride) * stride, -(-width // stride) * stride)
        shapes.append(list(shape))
        x = torch.rand(shape, generator=generator) * 2 - 1
        with torch.inference_mode():
            expected = graph(x)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, {ONNX_INPUT: x.numpy()})
        logit_diff = max(logit_diff, float(np.abs(got[0] - expected[0].numpy()).max()))
        logit_scale = max(logit_scale, float(expected[0].abs().max()))
        if graph.gated:
            attention_diff = max(attention_diff, float(np.abs(got[1] - expected[1].numpy()).max()))
    allowed = TOLERANCE * max(1.0, logit_scale)
    if not (logit_diff <= allowed and attention_diff <= TOLERANCE):
        raise DataError(
            source,
            f"exported ONNX model disagrees with PyTorch: max |diff| logits {logit_diff:.3g} "
            f"(allowed {allowed:.3g}), attention {attention_diff:.3g} (allowed {TOLERANCE:g})",
        )
    return {
        "shapes": shapes,
        "input": "uniform random in [-1, 1], seed 0",
        "max_abs_diff": max(logit_diff, attention_diff),
        "max_abs_diff_logits": logit_diff,
        "max_abs_diff_attention": attention_diff if graph.gated else None,
        "max_abs_logit": logit_scale,
        "tolerance": f"{TOLERANCE:g} x max(1, max |logit|) on logits, {TOLERANCE:g} on attention",
    }


def _sidecar(
    out: Path, metadata: dict[str, Any], opset: int, verification: dict[str, Any]
) -> dict[str, Any]:
    import onnx
    import onnxruntime

    outputs = {
        "logits": (
            "N x C x H x W float32 logits: foreground, then boundary when C >= 2, then "
            "centre map when C = 3 (sigmoid gives the probability)"
        ),
        "attention": "N x 1 x H x W float32 finest attention-gate map in [0, 1]",
    }
    return {
        **metadata,
        "file": out.name,
        "input": {"name": ONNX_INPUT, "shape": INPUT_NOTE},
        "outputs": {name: outputs[name] for name in metadata["outputs"]},
        "exporter": "torch.onnx.export (TorchScript-based, dynamo=False)",
        "opset": opset,
        "versions": {
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
        "verification": verification,
    }


def _recorded_sha256(sidecar: Path) -> str | None:
    """The source weights' sha256 an export's sidecar records (None when unreadable)."""
    try:
        return json.loads(sidecar.read_text()).get("weights_sha256")
    except (OSError, ValueError, AttributeError):
        return None
