"""make cluster-lag's arithmetic: what a run's samples say (scaled up, drained, back down, exact) and the files
and summary it writes."""

from __future__ import annotations

import datetime
from pathlib import Path

from bftools.cluster.lag import Experiment, Sample, doc_section, outcome, read_csv, write_csv


def _samples() -> list[Sample]:
    rows = [
        (-3, "idle", 0, 0, 1, 1, 1),
        (3, "burst", 30_000, 20_000, 1, 1, 3),
        (6, "burst", 60_000, 40_000, 3, 1, 3),
        (9, "drain", 90_000, 30_000, 3, 3, 3),
        (12, "drain", 90_000, 0, 3, 3, 3),
        (15, "drain", 90_000, 0, 3, 3, 1),
        (18, "drain", 90_000, 0, 1, 1, 1),
    ]
    return [Sample(*row) for row in rows]


def test_a_run_that_scaled_up_drained_and_came_back_reads_so() -> None:
    done = outcome(_samples(), sales=90_000, counted=90_000, minimum=1)
    assert (done.peak_replicas, done.peak_lag) == (3, 40_000)
    assert (done.scaled_up_after, done.ready_after, done.drained_after, done.back_to_min_after) == (6, 9, 12, 6)
    assert done.exact
    summary = done.summary(1, 3)
    assert "1 -> 3 replicas (6s after the burst started, 9s after it all ready)" in summary
    assert "drained 12s after the burst started; back to 1 replica(s) 6s after the drain" in summary
    assert "each exactly once" in summary


def test_a_run_that_never_scaled_or_lost_a_sale_says_so() -> None:
    flat = [Sample(t, "drain" if t > 0 else "burst", 100, 0, 1, 1, 1) for t in (0, 3, 6)]
    done = outcome(flat, sales=100, counted=99, minimum=1)
    assert done.scaled_up_after is None
    assert not done.exact
    summary = done.summary(1, 3)
    assert "NOT each exactly once" in summary
    assert "did not reach 3 replicas" in summary


def test_the_samples_survive_their_csv(tmp_path: Path) -> None:
    samples = _samples()
    assert read_csv(write_csv(samples, tmp_path / "lag.csv")) == samples


def test_the_doc_section_names_the_burst_the_scaling_and_the_files() -> None:
    done = outcome(_samples(), sales=90_000, counted=90_000, minimum=1)
    text = doc_section(done, Experiment(sales=90_000, rate=9_000), (1, 3, 1000), datetime.date(2026, 12, 4))
    assert text.startswith("Written by `make cluster-lag` on 2026-12-04: 90,000 sales produced")
    assert "1-3 replicas at 1,000 records of lag per replica" in text
    assert "[cluster-lag.csv](cluster-lag.csv)" in text
