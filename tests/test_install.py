"""`pip install .` works outside the repository: the wheel carries the package, its builtin model,
the napari plugin's manifest and the `sagegan` command (built and installed offline, without
dependencies, into a folder)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).parents[1]


def _pip(*args: str, cwd: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        *args,
        "--no-deps",
        "--quiet",
        "--disable-pip-version-check",
    ]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"pip {args[0]} failed:\n{done.stderr[-2000:]}")


def _source_copy(folder: Path) -> Path:
    """What the build reads, copied so that building leaves nothing in the checkout."""
    shutil.copytree(REPO_ROOT / "src", folder / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, folder / name)
    return folder


def test_wheel_installs_and_runs_outside_the_repository(tmp_path: Path) -> None:
    source = _source_copy(tmp_path / "source")
    _pip("wheel", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source), cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("sagegan-*.whl")
    target = tmp_path / "site"
    _pip("install", "--target", str(target), str(wheel), cwd=tmp_path)
    assert (target / "sagegan/models/pretrained/generalist/segmenter.safetensors").is_file()
    assert (target / "sagegan/napari_plugin/napari.yaml").is_file()  # the npe2 manifest
    (dist_info,) = target.glob("sagegan-*.dist-info")
    assert "sagegan.napari_plugin:napari.yaml" in (dist_info / "entry_points.txt").read_text()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import sagegan; print(sagegan.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(target)
    done = subprocess.run(
        [str(target / "bin" / "sagegan"), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "segment" in done.stdout and "train" in done.stdout
