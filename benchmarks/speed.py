"""CPU speed of sagegan's inference backends and training steps against eager NCHW fp32 (issue 7).

Inference: `predict_tiled` (the `segment` path: tiles of ``--tile``, overlap 0.25, no TTA) of the
default segmenter (``cpu-small`` preset) and the paper-size one (``paper`` preset: Attention U-Net,
base width 64) on synthetic images of each ``--sizes``, with the backends

* ``eager``: the module as it is, NCHW float32 (the reference code's way, the baseline);
* ``torch``: sagegan's default, inference mode + channels_last, float32;
* ``torch-bf16``: the same with bfloat16 autocast (opt-in: logits change by ~1e-2);
* ``onnx``: ONNX Runtime on the `export_onnx` file.

``--fast-tile`` runs the optimised backends with a larger tile than eager's ``--tile`` (fewer
overlapping windows, so less work per image; the probabilities then also differ by the tiling).

Per row: median latency, images/s, peak RSS of the process (and its RSS before inference), GFLOP
of the whole image (torch's FlopCounterMode for one window, times the windows), achieved GFLOP/s
and its share of the GEMM peak measured in the same run (fp32, or bf16 for ``torch-bf16``), the
speed-up over ``eager`` and, for images up to ``COMPARE_MAX_PIXELS``, the largest probability
difference from ``eager`` and the share of mask pixels that flip.

Training: seconds per iteration of the pretraining step and of the GAN step (S, G, both
discriminators and the perceptual loss; full online augmentation schedule) for each
``--presets`` (its patch size and widths, batch ``--train-batch``), for the variants ``eager``
(fp32 NCHW: the trainer's CPU default), ``bf16`` (the trainer's ``runtime.amp=bf16``),
``channels_last`` (``runtime.channels_last=true``) and ``bf16+channels_last``.
``--train-device cuda`` times the training rows on a GPU (synchronised at every mark; fp32
``eager`` then uses PyTorch's default TF32 convolutions) and adds the peak GPU memory.

Every measurement runs in a fresh subprocess (``--worker``) with ``--threads`` threads, so its
peak RSS (VmHWM) is its own. Times are medians over up to ``--repeats`` runs (stopping
after ``--max-seconds``) after a one-window warm-up. Prints markdown tables and writes JSON
(``--out``).

    python benchmarks/speed.py                                   # the full run (hours on 2 cores)
    python benchmarks/speed.py --models default --sizes 256x384 --repeats 1 \\
        --presets tiny --train-iters 2 --out /tmp/speed.json     # smoke run, under 2 minutes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch.utils.flop_counter import FlopCounterMode

from memory import current_rss_mb, peak_rss_mb
from sagegan.infer.export import export_onnx
from sagegan.infer.loading import load_backend
from sagegan.infer.tiling import predict_tiled, window_size, window_starts
from sagegan.models import build_model
from sagegan.models.checkpoint import save_weights
from sagegan.train.config import PRESETS, config_from_cli, preset_dict

DEFAULT_OUT = Path(__file__).parent / "results" / "speed.json"
DEFAULT_SIZES = ("512x768", "2560x1780", "8192x8192")
MODEL_PRESETS = {"default": "cpu-small", "paper": "paper"}
# benchmark backend name -> (load_backend's backend, precision)
BACKENDS = {
    "eager": ("eager", "fp32"),
    "torch": ("torch", "fp32"),
    "torch-bf16": ("torch", "bf16"),
    "onnx": ("onnx", "fp32"),
}
STAGES = ("pretrain", "gan")
TRAIN_VARIANTS = ("eager", "bf16", "channels_last", "bf16+channels_last")
OVERLAP = 0.25
COMPARE_MAX_PIXELS = 5_000_000
GEMM_SIZE = 2048
GEMM_SECONDS = 1.0
RESULT_PREFIX = "RESULT "


def parse_size(text: str) -> tuple[int, int]:
    height, _, width = text.lower().partition("x")
    return int(height), int(width)


def segmenter_spec(model: str) -> dict[str, Any]:
    """Registry name and kwargs of the segmenter of a benchmark model (its preset's)."""
    config = preset_dict(MODEL_PRESETS[model])["model"]
    return {"model": config["segmenter"], "model_kwargs": dict(config["segmenter_kwargs"])}


def synthetic_image(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A smooth random float32 image in (-1, 1): blob-like structure at a few pixels' scale."""
    noise = np.random.default_rng(seed).standard_normal(size, dtype=np.float32)
    return np.tanh(ndimage.gaussian_filter(noise, 3.0) * 8.0)


def tiling_windows(
    size: tuple[int, int], tile: tuple[int, int], stride: int
) -> tuple[tuple[int, int], int]:
    """(window shape, number of windows) of `predict_tiled` on an image of ``size``."""
    window = tuple(window_size(n, t, stride) for n, t in zip(size, tile, strict=True))
    counts = [len(window_starts(n, w, OVERLAP, stride)) for n, w in zip(size, window, strict=True)]
    return (window[0], window[1]), counts[0] * counts[1]


def window_gflop(spec: dict[str, Any], window: tuple[int, int]) -> float:
    """Forward GFLOP of one window (batch 1), counted on the meta device (no compute)."""
    with torch.device("meta"):
        model = build_model(spec["model"], **spec["model_kwargs"]).eval()
        x = torch.zeros(1, 1, *window)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() / 1e9


def timed_runs(run: Callable[[], None], repeats: int, max_seconds: float) -> list[float]:
    """Times of up to ``repeats`` runs, stopping once ``max_seconds`` have passed (>= 1 run)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < max_seconds):
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
    return times


# --------------------------------------------------------------------------- workers


def gemm_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Best GEMM GFLOP/s of square fp32 and bf16 matrix products."""
    result = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a = torch.randn(GEMM_SIZE, GEMM_SIZE).to(dtype)
        b = torch.randn(GEMM_SIZE, GEMM_SIZE).to(dtype)
        torch.mm(a, b)
        times = timed_runs(lambda a=a, b=b: torch.mm(a, b), 1000, GEMM_SECONDS)
        result[f"gemm_{name}_gflops"] = 2 * GEMM_SIZE**3 / min(times) / 1e9
    return result


def infer_worker(spec: dict[str, Any]) -> dict[str, Any]:
    size, tile = tuple(spec["size"]), tuple(spec["tile"])
    image = synthetic_image(size)
    backend_name, precision = BACKENDS[spec["backend"]]
    backend, _ = load_backend(
        spec["weights"], backend=backend_name, precision=precision, onnx_path=spec.get("onnx")
    )
    rss_before = current_rss_mb()
    predict_tiled(backend, image[: tile[0], : tile[1]], tile)  # warm-up: one window
    outputs = []

    def run() -> None:
        outputs[:] = [predict_tiled(backend, image, tile)]

    times = timed_runs(run, spec["repeats"], spec["max_seconds"])
    if spec.get("save_probability"):
        np.save(spec["save_probability"], outputs[0].probability)
    return {"times_s": times, "rss_before_mb": rss_before, "peak_rss_mb": peak_rss_mb()}


def timed_batches(
    batches: list[dict[str, Any]], marks: list[float], sync: Callable[[], None]
) -> Iterator[dict[str, Any]]:
    """Yield ``batches``, appending the time at each request: consecutive marks bracket one
    training iteration (the marks after the last batch end the last one). ``sync`` waits for
    queued GPU work before each mark."""
    for batch in batches:
        sync()
        marks.append(time.perf_counter())
        yield batch
    sync()
    marks.append(time.perf_counter())


def _no_sync() -> None:
    """CPU work is synchronous: nothing to wait for."""


def training_batches(
    size: tuple[int, int], batch_size: int, count: int, seed: int = 0
) -> list[dict[str, Any]]:
    """Synthetic (image, mask, valid, stem) batches of the trainer's loader format."""
    batches = []
    for index in range(count):
        images = [synthetic_image(size, seed + index * batch_size + k) for k in range(batch_size)]
        image = torch.from_numpy(np.stack(images))[:, None]
        mask = (image > 0.3).float()
        stems = [f"synthetic{index}_{k}" for k in range(batch_size)]
        batches.append(
            {"image": image, "mask": mask, "valid": torch.ones_like(mask), "stem": stems}
        )
    return batches


def train_worker(spec: dict[str, Any]) -> dict[str, Any]:
    from sagegan.train.engine import train_epoch
    from sagegan.train.gan_stage import GanStage
    from sagegan.train.guards import NonFiniteGuard
    from sagegan.train.mask_sources import MaskSources
    from sagegan.train.pretrain import PretrainStage
    from sagegan.train.runtime import setup_runtime

    variant = spec["variant"]
    device = spec.get("device", "cpu")
    overrides = {
        "runtime.device": device,
        "runtime.amp": "bf16" if "bf16" in variant else "none",
        "runtime.channels_last": "channels_last" in variant,
        "runtime.progress": False,
        "gan.realism_every": 0,  # the step alone is timed
    }
    if spec.get("vgg_weights"):
        overrides["gan.perceptual.vgg_weights"] = spec["vgg_weights"]
    config = config_from_cli(spec["preset"], None, overrides)
    runtime = setup_runtime(config.runtime)
    size = tuple(config.data.patch_size)
    batches = training_batches(size, spec["batch"], spec["warmup"] + spec["iters"])
    guard = NonFiniteGuard(config.runtime.nan_patience)
    if spec["stage"] == "pretrain":
        stage = PretrainStage(config, runtime, steps_per_epoch=len(batches))
        epoch = 0
    else:
        labels = [ndimage.label(batch["mask"][0, 0].numpy() > 0)[0] for batch in batches]
        sources = MaskSources(labels, config.gan.mask_sources, size)
        stage = GanStage(config, runtime, sources, None, [])
        epoch = config.gan.generator_warmup_epochs + config.gan.mix_ramp_epochs
    rss_before = current_rss_mb()
    marks: list[float] = []
    cuda = device == "cuda"
    timed = timed_batches(batches, marks, torch.cuda.synchronize if cuda else _no_sync)
    train_epoch(stage, epoch, timed, runtime, guard)
    steps = np.diff(marks)[spec["warmup"] :].tolist()
    return {
        "times_s": steps,
        "patch": list(size),
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
    }


WORKERS = {"gemm": gemm_worker, "infer": infer_worker, "train": train_worker}


def run_worker(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one measurement in a fresh Python process; {"error": ...} when it fails."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, __file__, "--threads", str(threads), "--worker", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit {done.returncode}"]
    return {"error": f"exit {done.returncode}: {lines[-1]}"}


# --------------------------------------------------------------------------- measurements


def measure_inference(
    args: argparse.Namespace, peaks: dict[str, float], folder: Path
) -> list[dict[str, Any]]:
    rows = []
    for model in args.models:
        spec = segmenter_spec(model)
        torch.manual_seed(0)
        network = build_model(spec["model"], **spec["model_kwargs"])
        weights = folder / f"{model}.safetensors"
        save_weights(weights, network, spec)
        stride = 2 ** int(spec["model_kwargs"]["depth"])
        onnx_file = export_onnx(weights) if "onnx" in args.backends else None
        for size in map(parse_size, args.sizes):
            compare = size[0] * size[1] <= COMPARE_MAX_PIXELS
            probabilities: dict[str, Path] = {}
            for name in args.backends:
                tile = backend_tile(name, args)
                window, windows = tiling_windows(size, tile, stride)
                gflop = window_gflop(spec, window) * windows
                job = {
                    "kind": "infer",
                    "weights": str(weights),
                    "onnx": str(onnx_file) if name == "onnx" else None,
                    "backend": name,
                    "size": list(size),
                    "tile": list(tile),
                    "repeats": args.repeats,
                    "max_seconds": args.max_seconds,
                }
                if compare:
                    probabilities[name] = folder / f"{model}-{size[0]}x{size[1]}-{name}.npy"
                    job["save_probability"] = str(probabilities[name])
                result = run_worker(job, args.threads)
                row = {
                    "model": model,
                    "network": f"{spec['model']} w{spec['model_kwargs']['base_width']}",
                    "size": f"{size[0]}x{size[1]}",
                    "backend": name,
                    "window": f"{window[0]}x{window[1]}",
                    "windows": windows,
                    "gflop": gflop,
                    **result,
                }
                if "error" not in result:
                    latency = statistics.median(result["times_s"])
                    peak = peaks["gemm_bf16_gflops" if "bf16" in name else "gemm_fp32_gflops"]
                    row.update(
                        latency_s=latency,
                        images_per_s=1.0 / latency,
                        gflops_per_s=gflop / latency,
                        share_of_gemm_peak=gflop / latency / peak,
                    )
                rows.append(row)
                print(json.dumps(row), flush=True)
            add_comparisons(rows[-len(args.backends) :], probabilities)
    return rows


def backend_tile(name: str, args: argparse.Namespace) -> tuple[int, int]:
    """The tile a backend runs with: ``--tile`` for eager (the baseline), ``--fast-tile`` (when
    given) for the optimised backends."""
    if name == "eager" or args.fast_tile is None:
        return args.tile
    return args.fast_tile


def add_comparisons(rows: list[dict[str, Any]], probabilities: dict[str, Path]) -> None:
    """Speed-up over eager, and probability / mask differences from eager, per backend row."""
    eager = next((row for row in rows if row["backend"] == "eager" and "latency_s" in row), None)
    if eager is None:
        return
    reference = np.load(probabilities["eager"]) if "eager" in probabilities else None
    for row in rows:
        if "latency_s" not in row:
            continue
        row["speedup_vs_eager"] = eager["latency_s"] / row["latency_s"]
        path = probabilities.get(row["backend"])
        if reference is not None and path is not None and path.is_file():
            got = np.load(path)
            row["max_abs_diff_probability"] = float(np.abs(got - reference).max())
            row["mask_pixels_changed"] = float(np.mean((got > 0.5) != (reference > 0.5)))


def measure_training(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for preset in args.presets:
        for stage in args.stages:
            for variant in args.train_variants:
                job = {
                    "kind": "train",
                    "preset": preset,
                    "stage": stage,
                    "variant": variant,
                    "batch": args.train_batch,
                    "iters": args.train_iters,
                    "warmup": args.train_warmup,
                    "device": args.train_device,
                    "vgg_weights": args.vgg_weights,
                }
                result = run_worker(job, args.threads)
                row = {
                    "preset": preset,
                    "stage": stage,
                    "variant": variant,
                    "device": args.train_device,
                    **result,
                }
                if "error" not in result:
                    row["s_per_iteration"] = statistics.median(result["times_s"])
                rows.append(row)
                print(json.dumps(row), flush=True)
            group = [row for row in rows[-len(args.train_variants) :] if "s_per_iteration" in row]
            eager = next((row for row in group if row["variant"] == "eager"), None)
            for row in group if eager else []:
                row["speedup_vs_eager"] = eager["s_per_iteration"] / row["s_per_iteration"]
    return rows


# --------------------------------------------------------------------------- report


def _number(row: dict[str, Any], key: str, fmt: str) -> str:
    value = row.get(key)
    return "" if value is None else format(value, fmt)


def inference_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | network | size | backend | window | windows | latency s | img/s | peak RSS MB "
        "| RSS before MB | GFLOP | GFLOP/s | % GEMM peak | speed-up | max dprob | mask changed |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(
                f"| {row['model']} | {row['network']} | {row['size']} | {row['backend']} "
                f"| {row['window']} | {row['windows']} | failed: {row['error']} |||||||||"
            )
            continue
        share = row["share_of_gemm_peak"] * 100
        lines.append(
            f"| {row['model']} | {row['network']} | {row['size']} | {row['backend']} "
            f"| {row['window']} | {row['windows']} | {row['latency_s']:.3f} "
            f"| {row['images_per_s']:.3g} "
            f"| {row['peak_rss_mb']:.0f} | {row['rss_before_mb']:.0f} | {row['gflop']:.1f} "
            f"| {row['gflops_per_s']:.0f} | {share:.0f} "
            f"| {_number(row, 'speedup_vs_eager', '.2f')} "
            f"| {_number(row, 'max_abs_diff_probability', '.1e')} "
            f"| {_number(row, 'mask_pixels_changed', '.1e')} |"
        )
    return "\n".join(lines)


def training_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| preset | stage | device | variant | patch | s/iteration | speed-up | peak RSS MB "
        "| peak GPU MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        device = row.get("device", "cpu")
        if "error" in row:
            lines.append(
                f"| {row['preset']} | {row['stage']} | {device} | {row['variant']} | failed: "
                f"{row['error']} |||||"
            )
            continue
        patch = "x".join(map(str, row["patch"]))
        lines.append(
            f"| {row['preset']} | {row['stage']} | {device} | {row['variant']} | {patch} "
            f"| {row['s_per_iteration']:.3f} | {_number(row, 'speedup_vs_eager', '.2f')} "
            f"| {row['peak_rss_mb']:.0f} | {_number(row, 'peak_gpu_mb', '.0f')} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", choices=list(MODEL_PRESETS), default=list(MODEL_PRESETS)
    )
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="HxW images")
    parser.add_argument("--backends", nargs="+", choices=list(BACKENDS), default=list(BACKENDS))
    parser.add_argument("--tile", type=parse_size, default=(512, 512), help="tile HxW (512x512)")
    parser.add_argument(
        "--fast-tile",
        type=parse_size,
        help="tile HxW of the optimised backends (default: --tile); eager keeps --tile",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement")
    parser.add_argument(
        "--max-seconds", type=float, default=120.0, help="stop repeating after this long"
    )
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-inference", action="store_true")
    parser.add_argument(
        "--presets", nargs="+", choices=list(PRESETS), default=["cpu-small", "paper"]
    )
    parser.add_argument("--stages", nargs="+", choices=list(STAGES), default=list(STAGES))
    parser.add_argument(
        "--train-variants", nargs="+", choices=TRAIN_VARIANTS, default=list(TRAIN_VARIANTS)
    )
    parser.add_argument(
        "--train-device", choices=("cpu", "cuda"), default="cpu", help="training rows' device"
    )
    parser.add_argument(
        "--vgg-weights", help="VGG file for the GAN rows' perceptual loss (default: stlpips's)"
    )
    parser.add_argument("--train-iters", type=int, default=3, help="timed iterations")
    parser.add_argument("--train-warmup", type=int, default=1, help="untimed first iterations")
    parser.add_argument(
        "--train-batch",
        type=int,
        default=1,
        help="training batch size (1; the paper preset's 2 does not fit 24 GB in the GAN stage)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        spec = json.loads(args.worker)
        print(RESULT_PREFIX + json.dumps(WORKERS[spec["kind"]](spec)), flush=True)
        return
    peaks = run_worker({"kind": "gemm"}, args.threads)
    if "error" in peaks:
        raise SystemExit(f"GEMM peak measurement failed: {peaks['error']}")
    print(json.dumps(peaks), flush=True)
    inference: list[dict[str, Any]] = []
    training: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sagegan-speed-") as folder:
        if not args.skip_inference:
            inference = measure_inference(args, peaks, Path(folder))
    if not args.skip_training:
        training = measure_training(args)
    meta = {
        "torch": torch.__version__,
        "threads": args.threads,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "tile": list(args.tile),
        "fast_tile": None if args.fast_tile is None else list(args.fast_tile),
        "overlap": OVERLAP,
        "repeats": args.repeats,
        "max_seconds": args.max_seconds,
        "train_batch": args.train_batch,
        "train_iters": args.train_iters,
        "train_warmup": args.train_warmup,
        "train_device": args.train_device,
        "gpu": torch.cuda.get_device_name() if args.train_device == "cuda" else None,
        **peaks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"meta": meta, "inference": inference, "training": training}
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print("\n" + markdown(record))
    args.out.with_suffix(".md").write_text(markdown(record))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


def markdown(record: dict[str, Any]) -> str:
    """The GEMM peaks and the inference and training tables of a result record."""
    meta = record["meta"]
    parts = [
        f"GEMM peak ({GEMM_SIZE}^2, {meta['threads']} threads): "
        f"fp32 {meta['gemm_fp32_gflops']:.0f} GFLOP/s, bf16 {meta['gemm_bf16_gflops']:.0f} GFLOP/s"
    ]
    if record["inference"]:
        parts.append(inference_table(record["inference"]))
    if record["training"]:
        parts.append(training_table(record["training"]))
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    main()
