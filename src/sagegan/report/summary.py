"""The summary card that opens the report: per result folder what was run and its headline numbers
(with units), then every warning (e.g. images whose particle counts are far off)."""

from __future__ import annotations

from collections.abc import Sequence

from sagegan.report import html
from sagegan.report.headline import Headline

SUMMARY_TITLE = "Summary"


def _card(headline: Headline) -> str:
    numbers = html.table([], headline.numbers.items(), css_class="headline")
    if not headline.numbers:
        numbers = html.paragraph("no headline numbers", True)
    run = "; ".join(f"{name}: {value}" for name, value in headline.run.items())
    return (
        f"<div>{html.heading(headline.title)}{html.paragraph(str(headline.folder), True)}"
        f"{numbers}{html.paragraph(run, True) if run else ''}</div>"
    )


def summary_section(headlines: Sequence[Headline]) -> html.Section:
    """The card: one block per headline side by side, then the warnings of all of them."""
    warnings = [
        f"{headline.title} ({headline.folder}): {warning}"
        for headline in headlines
        for warning in headline.warnings
    ]
    if warnings:
        notes = f'<div class="warnings"><strong>Warnings</strong>{html.bullets(warnings)}</div>'
    else:
        notes = html.paragraph("No warnings.", True)
    body = '<div class="cards">' + "".join(map(_card, headlines)) + "</div>" + notes
    return html.Section(SUMMARY_TITLE, body)
