"""Running Locust headless against 127.0.0.1, bounded in users and time, and reading its numbers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bftools.runtime import paths

LOCUSTFILE = paths.ROOT / "apps" / "blackfriday" / "loadgen" / "locustfile.py"


class LoadTestError(RuntimeError):
    pass


@dataclass(frozen=True)
class LocustResult:
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def successes(self) -> int:
        return self.requests - self.failures


def run_locust(
    host: str,
    *,
    users: int,
    spawn_rate: float,
    seconds: int,
    catalog: str = "builtin",
    log: Path | None = None,
) -> LocustResult:
    """Run the shopper scenario for ``seconds`` and return its aggregated numbers."""
    target = urlparse(host).hostname
    if target not in ("127.0.0.1", "localhost", "::1"):
        raise LoadTestError(f"load tests only target 127.0.0.1, not {host}")
    with tempfile.TemporaryDirectory(prefix="bf-locust-") as tmp:
        prefix = Path(tmp) / "stats"  # locust writes stats.json
        argv = [
            sys.executable, "-m", "locust",
            "-f", str(LOCUSTFILE),
            "--headless",
            "--host", host,
            "--users", str(users),
            "--spawn-rate", str(spawn_rate),
            "--run-time", f"{seconds}s",
            "--stop-timeout", "10",
            "--catalog", catalog,
            "--json-file", str(prefix),
            "--only-summary",
            "--loglevel", "WARNING",
        ]  # fmt: skip
        with log.open("wb") if log else open(os.devnull, "wb") as out:
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=seconds + 120, check=False)
        stats = prefix.with_suffix(".json")
        if not stats.exists():
            raise LoadTestError(f"locust exited {done.returncode} without results" + (f"; see {log}" if log else ""))
        entries = json.loads(stats.read_text())
    return summarize(entries)


def _percentile(histogram: dict[str, int], total: int, fraction: float) -> float:
    """The smallest response time (ms) at or under which ``fraction`` of the requests completed."""
    rank = math.ceil(total * fraction)
    seen = 0
    for value in sorted(histogram, key=float):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return 0.0


def summarize(entries: list[dict[str, Any]]) -> LocustResult:
    """Aggregate Locust's final JSON stats (one entry per request name)."""
    requests = sum(int(e["num_requests"]) for e in entries)
    failures = sum(int(e["num_failures"]) for e in entries)
    histogram: dict[str, int] = {}
    for entry in entries:
        for value, count in entry["response_times"].items():
            histogram[value] = histogram.get(value, 0) + int(count)
    started = min((float(e["start_time"]) for e in entries), default=0.0)
    ended = max((float(e["last_request_timestamp"] or 0) for e in entries), default=0.0)
    elapsed = max(ended - started, 1e-9)
    return LocustResult(
        requests=requests,
        failures=failures,
        rps=requests / elapsed if requests else 0.0,
        p50_ms=_percentile(histogram, requests, 0.50),
        p95_ms=_percentile(histogram, requests, 0.95),
        p99_ms=_percentile(histogram, requests, 0.99),
    )
