"""The product end to end under wrk, with each server (`--only ingest`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bftools.bench.measure import counter, run_wrk, scrape, stage_means
from bftools.bench.profile import py_spy
from bftools.bench.rig import Rig, services, wait_counted
from bftools.bench.rows import Options, Row
from bftools.bench.sections.common import SERVICES, STORED_201, load_row, pipeline_pids, wrk_script
from bftools.runtime.process import wait_for


def ingest(rig: Rig, options: Options, server: str, profile_dir: Path | None) -> list[Row]:
    """The product end to end (201 only after acks=all), at each concurrency level."""
    rows = []
    pipeline = rig.pipeline(rig.topic(), {name: {"HTTP_SERVER": server} for name in ("api", "bridge")})
    script = wrk_script(rig.home)
    with services(pipeline, list(SERVICES)):
        # Exactly once, judged by the api's own count of 201s: wrk leaves out the requests still in flight when
        # it stops, which the api stored and answered all the same.
        base = rig.counted()

        def acknowledged() -> int:
            return base + int(counter(f"{pipeline.api_url}/metrics", "bf_http_requests_total", STORED_201))

        def idle() -> bool:
            return counter(f"{pipeline.api_url}/metrics", "bf_api_sales_in_flight", {}) == 0

        run_wrk(pipeline.api_url, 16, 2, script)  # warm-up: connections, the broker's JIT, metadata
        wait_counted(rig, acknowledged(), 60)
        for level in options.levels:
            profile = None
            if profile_dir is not None and level == 64:
                profile = py_spy(pipeline.procs["api"].pid, options.seconds, profile_dir / f"api-{server}.txt")
            metrics = (f"{pipeline.api_url}/metrics", pipeline.writer_metrics_url)
            scraped = [scrape(url) for url in metrics]
            row = load_row(
                f"ingest ({server})",
                f"{level} connections",
                pipeline.api_url,
                level,
                options.seconds,
                pipeline_pids(pipeline, rig),
                script,
            )
            row.stages = stage_means(
                {k: v for found in scraped for k, v in found.items()},
                {k: v for url in metrics for k, v in scrape(url).items()},
            )
            # the sales still in the api when wrk stopped: forwarded and answered (or not) before counting
            if not wait_for(idle, 30):
                raise RuntimeError("the api still had sales in flight 30 s after the load stopped")
            stored = _settled(acknowledged)
            row.exactly_once = wait_counted(rig, stored, 120) and rig.counted() == stored
            row.note += (
                f" answered to wrk; so far the api stored {stored - base}, Valkey counted {rig.counted() - base}"
            )
            if profile is not None:
                profile.wait(60)
            rows.append(row)
    return rows


def _settled(read: Callable[[], int], timeout: float = 15.0) -> int:
    """A count once it stops moving (with no sale in flight, only the last answers are still being written)."""
    last = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = read()
        if now == last:
            return now
        last = now
    return last
