"""Shared fixtures: the real datasets in ../shared/data (skipped with a reason when absent), one
tiny trained run, and small helpers (touching discs, a fixed-logits segmenter)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from torch import nn

from sagegan.models.output import SegmentationOutput
from sagegan.train.config import config_from_cli
from sagegan.train.gan_stage import GanStage
from sagegan.train.mask_sources import MaskSources
from sagegan.train.runtime import Runtime
from sagegan.train.training_stage import StepBatch

REPO_ROOT = Path(__file__).resolve().parents[1]
# The CLI turns unexpected exceptions into one line; in tests they must surface as tracebacks, so
# that the guard never hides a bug (tests of the guard itself unset this).
os.environ.setdefault("SAGEGAN_DEBUG", "1")


@pytest.fixture(scope="session", autouse=True)
def reference_backend(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The command line's automatic backend resolves to PyTorch float32 in tests (a cached choice
    in a session folder), so that results do not depend on how fast this machine runs ONNX;
    tests of the automatic choice set their own cache."""
    from sagegan.infer.auto_backend import CACHE_FILE, CACHE_VARIABLE, machine_key

    folder = tmp_path_factory.mktemp("sagegan_cache")
    seconds = {"torch/fp32": 1.0, "torch/bf16": 2.0, "onnx/fp32": 2.0}
    choice = {"backend": "torch", "precision": "fp32", "speedup": 1.0, "seconds": seconds}
    cache = {machine_key(torch.device("cpu")): choice}
    (folder / CACHE_FILE).write_text(json.dumps(cache), encoding="utf-8")
    os.environ[CACHE_VARIABLE] = str(folder)


SHARED_DATA = Path(os.environ.get("SAGEGAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_dataset(name: str) -> Path:
    """Path of a real dataset in ../shared/data, or skip the test with a clear reason."""
    path = SHARED_DATA / name
    if not (path / "images").is_dir():
        reason = f"real dataset {name!r} not found at {path} (set SAGEGAN_SHARED_DATA)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the real-data tests")
        pytest.skip(reason)
    return path


def benchmark_script(name: str) -> ModuleType:
    """The module of ``benchmarks/<name>.py``, loaded from its file (benchmarks is no package) as
    running it does: its siblings importable by name, itself registered under ``name`` (which a
    dataclass in it needs)."""
    folder = str(REPO_ROOT / "benchmarks")
    spec = importlib.util.spec_from_file_location(name, Path(folder) / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


@pytest.fixture
def tio2_sem() -> Path:
    return shared_dataset("tio2_sem")


@pytest.fixture
def pdc_sem() -> Path:
    return shared_dataset("pdc_sem")


@pytest.fixture
def emps() -> Path:
    return shared_dataset("emps")


TINY_RUN_SIZE = (96, 128)


def train_tiny(root: Path, overrides: dict) -> tuple[Path, Path]:
    """(dataset folder, run folder) of a `tiny` run with ``overrides`` on 6 simulated 64x64
    images under ``root``."""
    from sagegan.synth import write_dataset
    from sagegan.train import config_from_cli, train

    data = write_dataset(root / "data", n=6, size=(64, 64), seed=0, progress=False)
    config = config_from_cli("tiny", None, {**overrides, "runtime.progress": False})
    train(data, root / "run", config)
    return data, root / "run"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(dataset folder, run folder) of one `tiny` training run on 8 simulated 96x128 images,
    trained once and shared by every test that needs a trained model (they must not modify it).
    Attention maps of 2 validation images are saved at every epoch; image grids are not."""
    from sagegan.synth import write_dataset
    from sagegan.train import config_from_cli, train

    root = tmp_path_factory.mktemp("tiny_run")
    data = write_dataset(root / "data", n=8, size=TINY_RUN_SIZE, seed=0, progress=False)
    overrides = {"runtime.attention_images": 2, "runtime.grid_every": 100}
    train(data, root / "run", config_from_cli("tiny", None, overrides))
    return data, root / "run"


def touching_discs(radius=12, spacing=8, shape=(48, 64)):
    """Two overlapping discs as an instance map split along the line between them (each pixel
    of the union goes to the nearer centre), as touching particles are annotated."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    row, left = shape[0] // 2, shape[1] // 2 - spacing // 2
    near_left = (yy - row) ** 2 + (xx - left) ** 2
    near_right = (yy - row) ** 2 + (xx - left - spacing) ** 2
    union = np.minimum(near_left, near_right) <= radius**2
    return np.where(union, np.where(near_left <= near_right, 1, 2), 0).astype(np.int32)


class FixedLogits(nn.Module):
    """A 'segmenter' whose logits are a fixed map, whatever the input."""

    def __init__(self, logits: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        logits = torch.as_tensor(logits)
        self.register_buffer("logits", logits[None, None])

    def forward(self, image: torch.Tensor) -> SegmentationOutput:
        return SegmentationOutput(self.logits.expand(image.shape[0], -1, -1, -1), [])


class Killed(BaseException):
    """Stands for the process dying (nothing in the trainer catches a BaseException)."""


def dies_after_save(monkeypatch: pytest.MonkeyPatch, saves: int) -> None:
    """Training raises `Killed` right after its ``saves``-th checkpoint (undone with
    ``monkeypatch``)."""
    from sagegan.train import checkpointing

    original, done = checkpointing.Checkpointer.save, []

    def save(self, *args, **kwargs):
        original(self, *args, **kwargs)
        done.append(args[1])
        if len(done) == saves:
            raise Killed

    monkeypatch.setattr(checkpointing.Checkpointer, "save", save)


def killed_then_resumed(
    monkeypatch: pytest.MonkeyPatch, data: Path, run: Path, config: object, saves: int
) -> None:
    """Train ``config`` into ``run``, killed right after its ``saves``-th checkpoint, then resume
    it to the end."""
    from sagegan.train.api import train

    with monkeypatch.context() as patch:
        dies_after_save(patch, saves)
        with pytest.raises(Killed):
            train(data, run, config)
    train(data, run, None, resume=True)


def log_without_timings(run: Path) -> list[dict]:
    """A run's ``log.jsonl`` records without their wall times (``seconds``), for comparing runs."""
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [{key: value for key, value in r.items() if key != "seconds"} for r in records]


def same_weights(
    first: Path, second: Path, nets: tuple[str, ...], checkpoints: tuple[str, ...] = ("last",)
) -> bool:
    """Whether two runs hold identical weights for every net of ``nets`` in each of their
    ``checkpoints`` ("last", "best", ...)."""
    from sagegan.models.checkpoint import load_weights, resolve_checkpoint

    for which in checkpoints:
        for net in nets:
            expected, actual = (
                load_weights(resolve_checkpoint(run, which) / f"{net}.safetensors")[0]
                for run in (first, second)
            )
            if not all(torch.equal(expected[key], actual[key]) for key in expected):
                return False
    return True


GAN_SIZE = 32


def tiny_gan_stage(**overrides: object) -> tuple[GanStage, StepBatch]:
    """A GAN stage with tiny networks (BCE + focal Tversky, random perceptual network, no realism
    probe) and a batch of two 32 px images with their masks; ``overrides`` are dotted config keys
    over those."""
    torch.manual_seed(0)
    settings = {
        "model.segmenter_kwargs": {"base_width": 4, "depth": 2},
        "model.generator_kwargs": {"base_width": 4, "depth": 2},
        "model.discriminator_kwargs": {"base_width": 4},
        "pretrain.loss": "bce_focal_tversky",
        "gan.perceptual": {"source": "random", "layers": ["relu1_1", "relu2_1"]},
        "gan.realism_every": 0,
        **overrides,
    }
    config = config_from_cli("paper", None, settings)
    labels = np.zeros((GAN_SIZE, GAN_SIZE), np.int32)
    labels[8:14, 8:14], labels[20:27, 18:24] = 1, 2
    sources = MaskSources([labels], config.gan.mask_sources, (GAN_SIZE, GAN_SIZE))
    stage = GanStage(config, Runtime(torch.device("cpu"), None), sources, None, [])
    mask = torch.from_numpy(labels > 0).float()[None, None].repeat(2, 1, 1, 1)
    image = (mask * 1.2 - 0.6 + 0.1 * torch.randn_like(mask)).clamp(-1, 1)
    return stage, StepBatch(image, mask, torch.ones_like(mask), None, ["a", "b"])
