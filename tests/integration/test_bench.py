"""`make bench`'s smoke run (`python -m bftools.bench --quick`): every section runs on a rig of its own, the table,
the CSV, the plots and both documents are written, every stored sale is counted once, and the pipeline's
stage histograms are read. No number is asserted against a speed: the bench measures, the test checks
that it can."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bftools.runtime.paths import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

SECTIONS = {
    "ingest (hypercorn)",
    "ingest (granian)",
    "baseline (a) bare hypercorn",
    "baseline (a) bare granian",
    "baseline (b) seed-style chain",
    "baseline (c) Kafka's producer tool",
    "comparisons",
    "consumer drain",
    "flash sale (Locust shape)",
}


def bench(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m bftools.bench` as `make bench` runs it, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bftools.bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_quick_bench_runs_every_section_and_writes_its_files(tmp_path: Path) -> None:
    results, docs = tmp_path / "results", tmp_path / "docs"
    done = bench("--quick", "--results", str(results), "--write-docs", "--docs", str(docs), timeout=840)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = json.loads((results / "results.json").read_text())["rows"]
    assert {row["section"] for row in rows} == SECTIONS
    for row in rows:
        assert row["sales_per_s"] > 0, row
        assert row["exactly_once"] in (None, True), f"{row['section']} / {row['name']}: a sale lost or counted twice"
    for row in (r for r in rows if r["section"].startswith("ingest")):
        assert row["exactly_once"] is True, row
        assert row["errors"] == 0, row
        assert {"api", "bridge", "writer", "consumer", "kafka", "valkey"} <= set(row["cpu"])
        assert row["cpu"]["wrk"] > 0, "the load generator's own CPU"
        assert row["stages"]["api_batch"] >= 1, row["stages"]
        assert row["stages"]["writer_ack_ms"] > 0, row["stages"]
    drains = [r for r in rows if r["section"] == "consumer drain" and not r["name"].startswith("seed-style")]
    assert drains
    assert all(r["exactly_once"] is True for r in drains), drains
    with (results / "results.csv").open() as table:
        assert len(list(csv.DictReader(table))) == len(rows)
    for name in ("ingest.png", "cpu.png", "drain.png"):
        assert (results / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (docs / "bench" / name).is_file()
    performance = (docs / "performance.md").read_text()
    for heading in ("## Targets", "## Where the time goes", "## Every row", "## Consumer drain"):
        assert heading in performance
    assert not re.search(r"\bnan\b", performance, re.IGNORECASE), "a number the run did not measure"
    assert "| api (hypercorn) |" in (docs / "scaling.md").read_text()
    assert "| ingest (hypercorn) | 64 connections |" in done.stdout
    assert "## Where the time goes\n\n- **Hypercorn, 64 connections: " in performance


def test_a_bench_past_its_time_bound_stops_says_so_and_leaves_nothing_running(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = bench("--quick", "--only", "ingest", "--budget", "5", "--results", str(results), timeout=120)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == "bench: stopped at its bound of 5 s (--budget); nothing written"
    assert not (results / "results.json").exists()
    left = subprocess.run(["pgrep", "-f", str(results)], capture_output=True, text=True, check=False)
    assert left.stdout == "", f"still running: {left.stdout}"
