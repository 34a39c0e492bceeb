"""make chaos --write-doc replaces only what stands between the markers of docs/reliability.md, totals
included; a document without the markers is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bftools.chaos.matrix import write_doc
from bftools.runtime.paths import ROOT


def test_the_table_and_its_totals_replace_the_marked_section_and_nothing_else(tmp_path: Path) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text("intro\n\n<!-- chaos:begin -->\n| old |\n\nold totals\n<!-- chaos:end -->\n\nafter\n")
    write_doc(doc, "| new |\n\n10 sales sent; every row holds\n")
    assert doc.read_text() == (
        "intro\n\n<!-- chaos:begin -->\n| new |\n\n10 sales sent; every row holds\n<!-- chaos:end -->\n\nafter\n"
    )


def test_a_document_without_the_markers_is_refused(tmp_path: Path) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text("no markers\n")
    with pytest.raises(ValueError, match="has no <!-- chaos:begin -->"):
        write_doc(doc, "| new |\n")
    assert doc.read_text() == "no markers\n"


def test_the_committed_document_has_the_markers_and_its_totals_inside() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text()
    inside = text.split("<!-- chaos:begin -->", 1)[1].split("<!-- chaos:end -->", 1)[0]
    assert "| fault |" in inside
    assert "sales sent (offered at" in inside
