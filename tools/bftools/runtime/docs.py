"""Generated sections of the hand-written documents: a run that measured something writes its figures
between two markers (``<!-- name:begin -->`` and ``<!-- name:end -->``) and nowhere else."""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(content: str, name: str, text: str, where: object = "the document") -> str:
    """``content`` with what stands between the markers ``name`` replaced by ``text``; ValueError naming them
    (and ``where``) when absent."""
    pattern = re.compile(rf"(<!-- {re.escape(name)}:begin -->\n)(?:.*?\n)?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(content):
        raise ValueError(f"{where} has no <!-- {name}:begin --> ... <!-- {name}:end --> section")
    body = text.rstrip("\n")
    return pattern.sub(lambda m: m.group(1) + (body + "\n" if body else "") + m.group(2), content)


def write_section(doc: Path, name: str, text: str) -> None:
    """Replace what stands between the markers ``name`` in ``doc``; ValueError naming them when absent."""
    doc.write_text(replace_section(doc.read_text(), name, text, doc))
