"""CITATION.cff: valid YAML with the fields GitHub and Zenodo read, in step with the package."""

from __future__ import annotations

from pathlib import Path

import yaml

import sagegan

CITATION = Path(__file__).parents[1] / "CITATION.cff"


def test_citation_file_names_this_version_and_the_paper() -> None:
    record = yaml.safe_load(CITATION.read_text(encoding="utf-8"))
    assert record["cff-version"] == "1.2.0"
    assert {"message", "title", "authors", "license"} <= record.keys()
    assert record["version"] == sagegan.__version__
    papers = [r for r in record["references"] if r["type"] == "article"]
    assert any("SAGE-GAN" in paper["title"] and paper["authors"] for paper in papers)
