"""Links from the report to the full tables next to it: relative paths from the report's folder,
so they work while the report stays beside its input folders."""

from __future__ import annotations

import os
from pathlib import Path

from sagegan.report import html

LINK_NOTE = "links are relative to the report's folder: keep the report next to its input folders"


def relative_href(target: Path, report_dir: Path) -> str:
    """The path of ``target`` relative to ``report_dir``, with forward slashes, for an href."""
    return Path(os.path.relpath(target.resolve(), report_dir.resolve())).as_posix()


def full_tables(files: list[Path], report_dir: Path) -> str:
    """A note linking the CSV ``files`` that exist (every column of the tables shown)."""
    present = [path for path in files if path.is_file()]
    if not present:
        return ""
    links = ", ".join(html.link(relative_href(path, report_dir), path.name) for path in present)
    return f'<p class="note">Full tables, every column: {links} ({html.escape(LINK_NOTE)}).</p>'
