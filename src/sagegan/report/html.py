"""HTML building blocks and the page: every text escaped, every image a data URI (PNG or JPEG),
inline CSS, no external URL, so the file works offline and can be mailed as is (links to the full
CSV tables are relative to the report's folder)."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sagegan.report.embed import EmbeddedImage

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
tr.flagged td { background: #fff1d6; }
#summary { border: 2px solid #888; border-radius: 8px; padding: 0.2em 1em 0.8em;
           background: #fafafa; }
#summary h2 { margin-top: 0.4em; } #summary h3 { margin: 0.6em 0 0.2em; }
.cards { display: flex; flex-wrap: wrap; gap: 0 1.5em; } .cards > div { flex: 1 1 260px; }
.cards p { margin: 0.2em 0; overflow-wrap: anywhere; }
.headline td.num { font-size: 1.1em; font-weight: 600; white-space: nowrap; }
.warnings { background: #fff1d6; border-left: 4px solid #d08000; padding: 0.3em 1em; }
"""
# lets a browser test check that every embedded image decoded and where the headline numbers end
LOAD_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.images, loaded = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { loaded += 1; }
  }
  document.body.dataset.imagesTotal = String(images.length);
  document.body.dataset.imagesLoaded = String(loaded);
  var numbers = document.querySelectorAll("#summary table.headline"), bottom = 0;
  for (var j = 0; j < numbers.length; j++) {
    bottom = Math.max(bottom, numbers[j].getBoundingClientRect().bottom);
  }
  document.body.dataset.headlineBottom = String(Math.ceil(bottom));
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


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    flagged: Collection[int] = (),
    css_class: str = "",
) -> str:
    """A table (no header row when ``header`` is empty); cells that are numbers (or formatted
    numbers) align right, the rows whose index is in ``flagged`` are highlighted."""
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    head = f"<thead><tr>{head}</tr></thead>" if head else ""
    body = "".join(
        ('<tr class="flagged">' if index in flagged else "<tr>")
        + "".join(_cell(cell) for cell in row)
        + "</tr>"
        for index, row in enumerate(rows)
    )
    attribute = f' class="{escape(css_class)}"' if css_class else ""
    table_html = f"<table{attribute}>{head}<tbody>{body}</tbody></table>"
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


def link(href: str, text: str) -> str:
    """A link to ``href`` (a relative path or an anchor)."""
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def image(embedded: EmbeddedImage, caption: str) -> str:
    """A figure with ``embedded`` as a data URI and its caption (also the alt text)."""
    text = escape(caption)
    return (
        f'<figure><img src="{embedded.data_uri()}" alt="{text}">'
        f"<figcaption>{text}</figcaption></figure>"
    )


def image_row(figures: Iterable[str]) -> str:
    """Figures side by side (wrapping on narrow windows)."""
    return '<div class="row">' + "".join(figures) + "</div>"


def _section(anchor: str, section: Section) -> str:
    return f'<section id="{anchor}"><h2>{escape(section.title)}</h2>{section.body}</section>'


def page(title: str, summary: Section, sections: Sequence[Section], environment: Section) -> str:
    """The whole HTML document: title, the ``summary`` card, a table of contents, the sections
    (each with an anchor the contents link to) and the ``environment`` last."""
    anchors = [f"section-{index}" for index in range(1, len(sections) + 1)]
    listed = [("summary", summary), *zip(anchors, sections, strict=True)]
    listed.append(("environment", environment))
    contents = "".join(
        f'<li><a href="#{anchor}">{escape(section.title)}</a></li>' for anchor, section in listed
    )
    body = "".join(_section(anchor, section) for anchor, section in listed[1:])
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style>"
        f"<script>{LOAD_SCRIPT}</script></head>\n"
        f"<body><header><h1>{escape(title)}</h1></header>{_section('summary', summary)}"
        f"<nav><h2>Contents</h2><ol>{contents}</ol></nav>\n{body}</body></html>\n"
    )
