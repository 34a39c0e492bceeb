"""docs/performance.md and docs/scaling.md, written from a run (make bench writes them)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from bench import report
from bench.sections import Row, peak_memory
from localstack.paths import ROOT


def write(
    rows: Sequence[Row], profile: dict[str, list[tuple[str, float]]], seconds: float, results: Path
) -> list[Path]:
    images = ROOT / "docs" / "bench"
    images.mkdir(parents=True, exist_ok=True)
    for name in ("ingest.png", "cpu.png", "drain.png"):
        if (results / name).exists():
            shutil.copy(results / name, images / name)
    performance = ROOT / "docs" / "performance.md"
    memory = peak_memory(rows)
    lines = ["# Performance", "", report.table(rows), ""]
    lines += ["Peak RSS: " + ", ".join(f"{n} {v:.0f} MiB" for n, v in sorted(memory.items())), ""]
    for name, layers in profile.items():
        lines.append(f"{name}: " + ", ".join(f"{layer} {share:.0f}%" for layer, share in layers))
    lines.append(f"\n(run of {seconds:.0f} s)")
    performance.write_text("\n".join(lines) + "\n")
    return [performance]
