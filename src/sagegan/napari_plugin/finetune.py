"""Fine-tuning from the viewer: ``sagegan train DATASET --out RUN --init MODEL`` in a subprocess.

`FineTuneRun` starts the command line's training with this interpreter (``python -m sagegan``), so
that the viewer stays responsive and a crash cannot take it down; `poll` reads the progress from
the run folder (`RunFolder`: the planned epochs in ``plan.json``, one ``log.jsonl`` record per
epoch), `cancel` stops the process (its whole process group on POSIX). A cancelled run is resumable
(``FineTuneRun(..., resume=True)``: ``sagegan train --resume`` from its last checkpoint). Nothing
here imports Qt: the widget polls it with a timer.

Every corrected image serves training: the split keeps no test images (``data.test_fraction=0``),
and one in about seven (at least one) validates, which selects the checkpoint; so fine-tuning needs
`MIN_IMAGES` corrected images.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sagegan.data.pairing import find_pairs
from sagegan.errors import ConfigError, DataError
from sagegan.models.builtin import BUILTIN
from sagegan.models.run_folder import RunFolder
from sagegan.napari_plugin.corrections import mask_folder_name
from sagegan.train.config_files import load_yaml
from sagegan.train.planning import load_plan_overrides

MIN_IMAGES = 3  # 2 to train on and 1 to select the checkpoint with
SPLIT_SETTINGS = ("data.test_fraction=0",)
NOT_STARTED, RUNNING, FINISHED, FAILED, CANCELLED = (
    "not started",
    "running",
    "finished",
    "failed",
    "cancelled",
)


@dataclass(frozen=True)
class FineTuneProgress:
    """Where a fine-tuning run stands: its state, the epochs logged out of those planned (None
    until the plan is written) and one line to show."""

    state: str
    epochs_done: int
    epochs_total: int | None
    message: str

    @property
    def fraction(self) -> float | None:
        """Share of the planned epochs done (1 when finished; None when not yet known)."""
        if self.state == FINISHED:
            return 1.0
        if not self.epochs_total:
            return None
        return min(1.0, self.epochs_done / self.epochs_total)


def next_run_folder(dataset: str | Path, prefix: str = "tune") -> Path:
    """A new run folder for the dataset: ``<dataset>-runs/<prefix>-NN``, the next free NN."""
    dataset = Path(dataset)
    root = dataset.parent / f"{dataset.name}-runs"
    number = 1
    while (root / f"{prefix}-{number:02d}").exists():
        number += 1
    return root / f"{prefix}-{number:02d}"


def epochs_logged(run: Path) -> int:
    """Training epochs recorded in the run's log (the record before training not counted); a line
    being written is skipped."""
    path = RunFolder(run).log_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    done = 0
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(record, dict)
            and isinstance(record.get("epoch"), int)
            and record["epoch"] >= 0
        ):
            done += 1
    return done


def epochs_planned(run: Path) -> int | None:
    """Epochs the run will train: the plan's pretraining epochs (else the config's) plus the GAN
    stage's; None until the plan and the config are written."""
    try:
        overrides = load_plan_overrides(run)
        config = load_yaml(RunFolder(run).config_path())
    except DataError:
        return None
    if overrides is None:
        return None
    pretrain = overrides.get("pretrain.epochs", config.get("pretrain", {}).get("epochs"))
    gan = config.get("gan", {}).get("epochs", 0)
    if not isinstance(pretrain, int) or not isinstance(gan, int):
        return None
    return pretrain + gan


class FineTuneRun:
    """One ``sagegan train`` run of ``dataset`` into ``out`` starting from ``init`` (builtin or a
    run folder), ``iterations`` long (None: the planned default); ``resume`` continues ``out``."""

    def __init__(
        self,
        dataset: str | Path,
        out: str | Path,
        init: str | Path = BUILTIN,
        iterations: int | None = None,
        resume: bool = False,
    ) -> None:
        if iterations is not None and iterations < 1:
            raise ConfigError(f"iterations must be >= 1, got {iterations}")
        self.dataset = Path(dataset)
        self.out = Path(out)
        self.init = str(init)
        self.iterations = iterations
        self.resume = resume
        self.process: subprocess.Popen[bytes] | None = None
        self._console: IO[bytes] | None = None
        self._cancelled = False
        self._final: FineTuneProgress | None = None

    @property
    def mask_dir(self) -> str:
        return mask_folder_name(self.dataset)

    def command(self) -> list[str]:
        """The command line that runs the training (this interpreter, ``-m sagegan``)."""
        command = [sys.executable, "-m", "sagegan", "train", str(self.dataset)]
        command += ["--out", str(self.out), "--mask-dir", self.mask_dir]
        if self.resume:
            return [*command, "--resume"]
        command += ["--init", self.init]
        for setting in SPLIT_SETTINGS:
            command += ["--set", setting]
        if self.iterations is not None:
            command += ["--iterations", str(self.iterations)]
        return command

    def check(self) -> None:
        """One-line errors before starting: too few corrected images, a taken run folder."""
        with_masks = find_pairs(self.dataset, mask_dir=self.mask_dir)
        if len(with_masks) < MIN_IMAGES:
            raise DataError(
                self.dataset,
                f"fine-tuning needs at least {MIN_IMAGES} corrected images (one validates), "
                f"found {len(with_masks)}",
            )
        if not self.resume and self.out.exists() and any(self.out.iterdir()):
            raise DataError(self.out, "the run folder is not empty")

    def start(self) -> None:
        """Check, then start the training process (stdout and stderr kept for the error line)."""
        if self.process is not None:
            raise ConfigError("this fine-tuning run was already started")
        self.check()
        self._console = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the run ends)
        self.process = subprocess.Popen(
            self.command(),
            stdout=self._console,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=os.name == "posix",
        )

    def poll(self) -> FineTuneProgress:
        """The progress now; the final state once the process has ended."""
        if self._final is not None:
            return self._final
        done, total = epochs_logged(self.out), epochs_planned(self.out)
        if self.process is None:
            return FineTuneProgress(NOT_STARTED, 0, None, "not started")
        code = self.process.poll()
        if code is None:
            what = "planning" if total is None else f"epoch {min(done + 1, total)} of {total}"
            return FineTuneProgress(RUNNING, done, total, f"fine-tuning: {what}")
        if self._cancelled:
            state, message = CANCELLED, f"cancelled; resumable from {self.out}"
        elif code == 0:
            state, message = FINISHED, f"fine-tuned: {self.out}"
        else:
            state, message = FAILED, self._error_line(code)
        self._final = FineTuneProgress(state, done, total, message)
        self._close_console()
        return self._final

    def cancel(self, timeout: float = 10.0) -> None:
        """Stop the training process (and its children); the run folder stays resumable."""
        if self.process is None or self.process.poll() is not None:
            return
        self._cancelled = True
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
            self.process.wait(timeout)

    def wait(self, timeout: float, interval: float = 0.2) -> FineTuneProgress:
        """Poll until the process ends or ``timeout`` seconds pass; the last progress."""
        deadline = time.monotonic() + timeout
        progress = self.poll()
        while progress.state == RUNNING and time.monotonic() < deadline:
            time.sleep(interval)
            progress = self.poll()
        return progress

    def _signal(self, number: int) -> None:
        assert self.process is not None
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.killpg(self.process.pid, number)
        else:
            self.process.terminate()

    def _error_line(self, code: int) -> str:
        """The training's last output line (its one-line error), else the exit status."""
        lines: list[str] = []
        if self._console is not None:
            self._console.seek(0)
            text = self._console.read().decode("utf-8", errors="replace")
            lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
        return lines[-1] if lines else f"training stopped with exit status {code}"

    def _close_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None
