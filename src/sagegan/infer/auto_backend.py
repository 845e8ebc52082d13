"""The fastest way to run a segmenter on this machine, measured once and remembered.

bf16 autocast is 1.3-2.6x faster than float32 on CPUs with native bf16 but 4.7x slower on an
AVX2-only CPU, and ONNX Runtime beat PyTorch 3x on one CPU: no rule of thumb picks well, so
`choose_backend` measures. It times one forward pass of a small Attention U-Net (base width 16,
random weights) on a `BENCH_SIDE` square with each candidate that this machine can run, PyTorch
float32, PyTorch bf16 autocast, ONNX Runtime float32 (CPU, when installed), and keeps the fastest
when it beats PyTorch float32 by at least `MIN_GAIN` (float32 PyTorch otherwise: its results are
the reference). The measurement takes a few seconds and is cached per machine, device and library
versions in `cache_dir()/backends.json`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from sagegan.infer.backends import InferenceBackend, OnnxBackend, TorchBackend
from sagegan.infer.export import benchmark_onnx
from sagegan.models.registry import build_model

LOGGER = logging.getLogger("sagegan")
BENCH_SIDE = 512
BENCH_REPEATS = 3
MIN_GAIN = 1.15
CACHE_VARIABLE = "SAGEGAN_CACHE_DIR"
CACHE_FILE = "backends.json"


@dataclass(frozen=True)
class BackendChoice:
    """What to run with: backend and precision, how much faster than float32 PyTorch, and the
    seconds per forward pass measured for every candidate."""

    backend: str
    precision: str
    speedup: float
    seconds: dict[str, float]

    def line(self) -> str:
        """One line for the console."""
        if self.backend == "torch" and self.precision == "fp32":
            return "inference: PyTorch float32 (the fastest measured on this machine)"
        name = "ONNX Runtime" if self.backend == "onnx" else f"PyTorch {self.precision}"
        return f"inference: {name}, measured {self.speedup:.1f}x faster than PyTorch float32 here"


def cache_dir() -> Path:
    """``$SAGEGAN_CACHE_DIR``, else ``$XDG_CACHE_HOME/sagegan``, else ``~/.cache/sagegan``."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sagegan"


def machine_key(device: torch.device) -> str:
    """What the measurement depends on: processor, device, threads and library versions."""
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:
        ort = "none"
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    parts = [platform.machine(), _cpu_name(), gpu, f"threads={torch.get_num_threads()}"]
    return " | ".join([*parts, f"torch={torch.__version__}", f"onnxruntime={ort}"])


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def _candidates(device: torch.device) -> list[tuple[str, str]]:
    found = [("torch", "fp32")]
    if device.type == "cpu" or torch.cuda.is_bf16_supported():
        found.append(("torch", "bf16"))
    if device.type == "cpu":
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401

            found.append(("onnx", "fp32"))
        except ImportError:
            pass
    return found


def _bench_runner(
    backend: str, precision: str, device: torch.device, folder: Path
) -> InferenceBackend:
    torch.manual_seed(0)
    model = build_model("attention_unet", base_width=16).eval().to(device)
    if backend == "onnx":
        return OnnxBackend(benchmark_onnx(model, folder / "bench.onnx"))
    return TorchBackend(model, device, precision)


def measure_backends(device: torch.device) -> dict[str, float]:
    """Seconds per forward pass (best of `BENCH_REPEATS`, after a warm-up) of each candidate."""
    image = torch.zeros(1, 1, BENCH_SIDE, BENCH_SIDE).uniform_(-1.0, 1.0)
    seconds = {}
    with tempfile.TemporaryDirectory() as folder:
        for backend, precision in _candidates(device):
            runner = _bench_runner(backend, precision, device, Path(folder))
            runner(image)  # warm-up: allocations, kernel selection
            times = []
            for _ in range(BENCH_REPEATS):
                start = time.perf_counter()
                runner(image)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                times.append(time.perf_counter() - start)
            seconds[f"{backend}/{precision}"] = min(times)
    return seconds


def _chosen(seconds: dict[str, float]) -> BackendChoice:
    reference = seconds["torch/fp32"]
    fastest = min(seconds, key=seconds.get)
    speedup = reference / seconds[fastest]
    if speedup < MIN_GAIN:
        return BackendChoice("torch", "fp32", 1.0, seconds)
    backend, precision = fastest.split("/")
    return BackendChoice(backend, precision, speedup, seconds)


def choose_backend(device: torch.device, use_cache: bool = True) -> BackendChoice:
    """The fastest backend and precision for ``device`` (measured, or read from the cache)."""
    key = machine_key(device)
    path = cache_dir() / CACHE_FILE
    cached = _read_cache(path) if use_cache else {}
    wanted = {f"{backend}/{precision}" for backend, precision in _candidates(device)}
    if key in cached and wanted <= set(cached[key].get("seconds", {})):
        return BackendChoice(**cached[key])
    LOGGER.info("measuring the fastest inference backend on this machine (once, a few seconds)")
    choice = _chosen(measure_backends(device))
    if use_cache:
        _write_cache(path, {**cached, key: asdict(choice)})
    return choice


def _read_cache(path: Path) -> dict[str, dict]:
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


def _write_cache(path: Path, values: dict[str, dict]) -> None:
    """Best effort: a cache that cannot be written only means measuring again next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(values, indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        LOGGER.debug("could not cache the backend choice in %s (%s)", path, err)


def _allowed(backend: str, precision: str, device: torch.device) -> list[tuple[str, str]]:
    """The candidates that ``backend`` and ``precision`` (either may be "auto") allow."""
    if backend == "eager":
        return [("eager", "fp32")]
    return [
        (b, p)
        for b, p in _candidates(device)
        if backend in ("auto", b) and precision in ("auto", p)
    ]


def pick_backend(
    backend: str, precision: str, device: torch.device, onnx_file: bool = False
) -> tuple[str, str]:
    """Concrete (backend, precision) for options that may say "auto": the fastest measured
    candidate they allow (`choose_backend`), the first one (PyTorch float32 where allowed) unless
    another beats it by `MIN_GAIN`; ``onnx_file``: an ONNX file was given, so an "auto" backend is
    ONNX Runtime. A choice between several candidates is logged in one line."""
    if onnx_file and backend == "auto":
        backend = "onnx"
    allowed = _allowed(backend, precision, device)
    if len(allowed) <= 1:  # nothing to measure (none: the loader says why, e.g. no onnxruntime)
        if allowed:
            return allowed[0]
        return ("torch" if backend == "auto" else backend), "fp32"
    measured = choose_backend(device).seconds
    timed = {pair: measured[f"{pair[0]}/{pair[1]}"] for pair in allowed}
    reference = allowed[0]
    fastest = min(timed, key=timed.get)
    speedup = timed[reference] / timed[fastest]
    if speedup < MIN_GAIN:
        fastest, speedup = reference, 1.0
    LOGGER.info("%s", BackendChoice(*fastest, speedup, measured).line())
    return fastest
