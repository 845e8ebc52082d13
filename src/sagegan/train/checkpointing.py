"""Per-epoch checkpoints of a training run, written so that a run killed at any moment can resume.

Each checkpoint is a folder of the run (`RunFolder.checkpoint_folder`) holding every network's
weights (safetensors with model metadata), the training state (optimisers, schedulers, gradient
scalers, every rank's RNG states, epoch, best score, early-stopping counter, stage) and the
training info (config, epoch, metrics, split file). The folder is complete before the pointers
``last`` / ``best*`` are atomically replaced; folders no pointer names are deleted afterwards. See
``sagegan.models.run_folder`` for the layout and ``sagegan.models.checkpoint`` for the reading
side used by inference.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sagegan.data.atomic_files import write_bytes_atomic, write_json_atomic
from sagegan.models.checkpoint import load_weights as load_weight_file
from sagegan.models.checkpoint import save_weights, unwrap
from sagegan.models.run_folder import POINTERS, CheckpointFolder, RunFolder, best_pointer
from sagegan.train.runtime import Runtime, rng_state


class Checkpointer:
    """Writes and reads the checkpoints of one run folder (files are written by rank 0 only)."""

    def __init__(self, run_dir: str | Path, runtime: Runtime) -> None:
        self.folder = RunFolder(run_dir)
        self.runtime = runtime

    def save(
        self,
        stage: str,
        epoch: int,
        nets: dict[str, nn.Module],
        specs: dict[str, dict[str, Any]],
        state: dict[str, Any],
        info: dict[str, Any],
        improved: bool,
    ) -> None:
        """Checkpoint the end of ``epoch``; call on every rank (RNG states are gathered).

        ``specs`` maps a net name to {"model": registry name, "model_kwargs": {...}}; ``info`` (with
        "score" and "metric" when validated) goes into the training info and the pointers.
        """
        rng_states = self.runtime.gather(rng_state())
        if self.runtime.is_main:
            folder = self.folder.checkpoint_folder(stage, epoch)
            files = CheckpointFolder(folder)
            if folder.exists():  # a partial folder left by a run killed while writing it
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            metadata = {"stage": stage, "epoch": epoch, "metrics": info.get("metrics", {})}
            for net_name, module in nets.items():
                save_weights(
                    files.weights(net_name),
                    module,
                    {**specs[net_name], **metadata, "net": net_name},
                )
            buffer = io.BytesIO()
            torch.save({**state, "stage": stage, "epoch": epoch, "rng": rng_states}, buffer)
            write_bytes_atomic(files.state_path(), buffer.getvalue())
            pointer = {
                **info,
                "checkpoint": self.folder.pointer_entry(folder),
                "stage": stage,
                "epoch": epoch,
            }
            write_json_atomic(files.info_path(), pointer)
            write_json_atomic(self.folder.pointer_path("last"), pointer)
            if improved:
                self._point_best(stage, pointer)
            self.collect_garbage()
        self.runtime.barrier()

    def _point_best(self, stage: str, pointer: dict[str, Any]) -> None:
        write_json_atomic(self.folder.pointer_path(best_pointer(stage)), pointer)
        if self._beats_overall_best(pointer):
            write_json_atomic(self.folder.pointer_path("best"), pointer)

    def repair_best_pointers(self, state: dict[str, Any]) -> None:
        """Finish the pointer updates of a run killed between the ``last`` and ``best*`` pointers.

        ``state`` is the last checkpoint's state: when its epoch was the stage's best, the best
        pointers must name it.
        """
        last = self.read_pointer("last")
        if not self.runtime.is_main or last is None:
            return
        if state["tracker"]["best_epoch"] != state["epoch"]:
            return
        best = self.read_pointer(best_pointer(state["stage"]))
        if best is None or best["checkpoint"] != last["checkpoint"]:
            self._point_best(state["stage"], last)

    def _beats_overall_best(self, pointer: dict[str, Any]) -> bool:
        current = self.read_pointer("best")
        if current is None or current.get("metric") != pointer.get("metric"):
            return True
        return pointer.get("score", float("-inf")) >= current.get("score", float("-inf"))

    def read_pointer(self, which: str) -> dict[str, Any] | None:
        """The contents of the pointer ``which``, or None when absent (DataError when corrupt)."""
        return self.folder.read_pointer(which)

    def collect_garbage(self) -> None:
        """Delete checkpoint folders that no pointer names (older epochs, partial writes)."""
        root = self.folder.checkpoints_dir()
        if not root.is_dir():
            return
        keep = {
            Path(pointer["checkpoint"]).name
            for which in POINTERS
            if (pointer := self.read_pointer(which)) is not None
        }
        for folder in root.iterdir():
            if folder.is_dir() and folder.name not in keep:
                shutil.rmtree(folder)

    def load_state(self, which: str = "last") -> tuple[Path, dict[str, Any]] | None:
        """(checkpoint folder, state) of ``which``, or None when the run has no such checkpoint."""
        if self.read_pointer(which) is None:
            return None
        folder = self.folder.checkpoint(which)
        state = torch.load(
            CheckpointFolder(folder).state_path(), map_location="cpu", weights_only=True
        )
        return folder, state

    def load_net(self, folder: Path, net_name: str, module: nn.Module) -> None:
        """Load one network's weights from a checkpoint folder into ``module``."""
        weights, _ = load_weight_file(CheckpointFolder(folder).weights(net_name))
        unwrap(module).load_state_dict(weights)
