"""Generated sections of the hand-written documents: a run that measured something writes its figures
between two markers (``<!-- name:begin -->`` and ``<!-- name:end -->``) and nowhere else."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(doc: Path, name: str, text: str) -> None:
    """Replace what stands between the markers ``name`` in ``doc``; ValueError naming them when absent."""
    content = doc.read_text()
    pattern = re.compile(rf"(<!-- {re.escape(name)}:begin -->\n)(?:.*?\n)?(<!-- {re.escape(name)}:end -->)", re.S)
    if not pattern.search(content):
        raise ValueError(f"{doc} has no <!-- {name}:begin --> ... <!-- {name}:end --> section")
    doc.write_text(pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(2), content))
