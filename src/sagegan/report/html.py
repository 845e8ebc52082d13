"""HTML building blocks and the page: every text escaped, every image a PNG data URI, inline CSS,
no external URL, so the file works offline and can be mailed as is."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MISSING = "–"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #222;
       padding: 0 1em; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; padding-bottom: 0.2em;
     margin-top: 2em; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto;
      font-size: 0.85em; max-height: 40em; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; margin-top: 0.3em; }
.row { display: flex; flex-wrap: wrap; gap: 1em; } .row figure { flex: 1 1 300px; }
.row figure img { width: 100%; }
.note { color: #555; font-size: 0.9em; } .scroll { overflow-x: auto; }
"""
# lets a browser test check that every embedded image decoded
LOAD_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.images, loaded = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { loaded += 1; }
  }
  document.body.dataset.imagesTotal = String(images.length);
  document.body.dataset.imagesLoaded = String(loaded);
});
"""


@dataclass(frozen=True)
class Section:
    """One part of the report: its heading and its HTML body."""

    title: str
    body: str


def escape(value: object) -> str:
    """``value`` as text safe inside HTML elements and attribute values."""
    return html.escape(str(value), quote=True)


def format_value(value: object) -> str:
    """Display text of a result value: floats to 4 significant digits, integers exactly, null
    and NaN as "–", lists and mappings as compact JSON."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def paragraph(text: str, note: bool = False) -> str:
    return f'<p class="note">{escape(text)}</p>' if note else f"<p>{escape(text)}</p>"


def heading(text: str) -> str:
    return f"<h3>{escape(text)}</h3>"


def preformatted(text: str) -> str:
    return f"<pre>{escape(text)}</pre>"


def bullets(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A table; cells that are numbers (or formatted numbers) align right."""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in rows)
    table_html = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table_html}</div>'


def _cell(value: object) -> str:
    text = str(value)
    numeric = isinstance(value, (int, float)) or _looks_numeric(text)
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _looks_numeric(text: str) -> bool:
    try:
        float(text.split(" ")[0])
    except ValueError:
        return False
    return True


def key_values(values: Mapping[str, object]) -> str:
    """A two-column table of ``values``."""
    return table(["", "value"], [(key, value) for key, value in values.items()])


def image(png: bytes, caption: str) -> str:
    """A figure with ``png`` embedded as a data URI and its caption (also the alt text)."""
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    text = escape(caption)
    return f'<figure><img src="{uri}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def image_row(figures: Iterable[str]) -> str:
    """Figures side by side (wrapping on narrow windows)."""
    return '<div class="row">' + "".join(figures) + "</div>"


def page(
    title: str, header: Mapping[str, object], inputs: Sequence[str], sections: Sequence[Section]
) -> str:
    """The whole HTML document: title, ``header`` facts, input folders, table of contents and the
    sections, each with an anchor the contents link to."""
    anchors = [f"section-{index}" for index in range(1, len(sections) + 1)]
    contents = "".join(
        f'<li><a href="#{anchor}">{escape(section.title)}</a></li>'
        for anchor, section in zip(anchors, sections, strict=True)
    )
    body = "".join(
        f'<section id="{anchor}"><h2>{escape(section.title)}</h2>{section.body}</section>'
        for anchor, section in zip(anchors, sections, strict=True)
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style>"
        f"<script>{LOAD_SCRIPT}</script></head>\n"
        f"<body><header><h1>{escape(title)}</h1>{key_values(header)}"
        f"<p>Built from:</p>{bullets(inputs)}</header>"
        f"<nav><h2>Contents</h2><ol>{contents}</ol></nav>\n{body}</body></html>\n"
    )
