"""The HTML report in a real browser (headless Chromium): every embedded figure decodes, the page
opens with the summary card and renders as more than a blank colour."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sagegan.report import write_report

BROWSER_TIMEOUT_S = 60
MIN_PIXEL_STD = 10.0  # grey levels; a blank page has 0
FIRST_SCREEN = (1280, 800)  # pixels of a laptop window: the headline numbers must fit in it


def _chromium() -> str:
    """The Chromium executable; skip without it, except under CI=true (CI installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "chromium not installed: apt-get install chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI must run the browser test)")
        pytest.skip(reason)
    return found


def _run_chromium(browser: str, profile: Path, *arguments: str) -> str:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def report(tiny_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, run = tiny_run
    return write_report([run], tmp_path_factory.mktemp("browser") / "report.html")


def test_every_image_decodes_in_the_browser(report: Path, tmp_path: Path) -> None:
    browser = _chromium()
    window = f"--window-size={FIRST_SCREEN[0]},{FIRST_SCREEN[1]}"
    dom = _run_chromium(browser, tmp_path / "profile", window, "--dump-dom", report.as_uri())
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None, dom[:500]
    loaded = re.search(r'data-images-loaded="(\d+)"', body[0])
    total = re.search(r'data-images-total="(\d+)"', body[0])
    assert loaded is not None and total is not None, body[0]
    assert int(total[1]) > 0
    assert int(loaded[1]) == int(total[1])
    # the rendered page opens with the summary card and its headline numbers
    first_section = re.search(r"<section[^>]*>(.*?)</section>", dom, re.DOTALL)
    assert first_section is not None and 'id="summary"' in first_section[0]
    assert "best checkpoint" in first_section[1] and "validation dice" in first_section[1]
    headline_bottom = re.search(r'data-headline-bottom="(\d+)"', body[0])
    assert headline_bottom is not None and 0 < int(headline_bottom[1]) <= FIRST_SCREEN[1]


def test_screenshot_is_not_blank(report: Path, tmp_path: Path) -> None:
    browser = _chromium()
    shot = tmp_path / "page.png"
    arguments = [f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri()]
    _run_chromium(browser, tmp_path / "profile", *arguments)
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > MIN_PIXEL_STD
