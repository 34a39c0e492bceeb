"""A row of `make bench`'s table, the options of a run, and what the documents read across the rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Row:
    section: str
    name: str
    sales_per_s: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    #: % of one core per process, over the row
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    #: every stored sale counted once in Valkey (None: not checked)
    exactly_once: bool | None = None
    note: str = ""
    #: the pipeline's own view of the row: mean batch sizes and the round trips they waited for (ms)
    stages: dict[str, float] = field(default_factory=dict)


@dataclass
class Options:
    seconds: float = 10.0
    levels: tuple[int, ...] = (16, 64, 256)
    drain_sales: int = 200_000
    flash_seconds: float = 60.0
    flash_users: int = 100
    kafka_records: int = 200_000
    profile: bool = True


def peak_memory(rows: Sequence[Row]) -> dict[str, float]:
    """Each process's highest RSS over the rows."""
    peaks: dict[str, float] = {}
    for row in rows:
        for name, rss in row.rss_mb.items():
            peaks[name] = max(peaks.get(name, 0.0), rss)
    return peaks
