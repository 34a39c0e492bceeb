"""performance.md's targets table from a run's rows: a seed-style baseline the run measured as 0 (its consumer
starved of CPU in a short window) gives "∞ ×", not a crash of the whole bench at its very end."""

from __future__ import annotations

from bftools.bench.docs import targets
from bftools.bench.rows import Row

SEED_CONSUMER = "seed-style consumer (a dozen round trips per sale)"


def rows(seed_drain: float, seed_chain: float) -> list[Row]:
    return [
        Row("ingest (hypercorn)", "64 connections", 3000, p99_ms=50),
        Row("ingest (granian)", "64 connections", 3500, p99_ms=40),
        Row("baseline (a) bare hypercorn", "64 connections", 4000),
        Row("baseline (a) bare granian", "64 connections", 9000),
        Row("baseline (b) seed-style chain", "64 connections", seed_chain),
        Row("consumer drain", "1 consumer, 3 partitions, AOF always (the product)", 12000),
        Row("consumer drain", SEED_CONSUMER, seed_drain),
        Row("consumer drain", "the store's limit: the Lua script with no Kafka (batches of 500)", 40000),
    ]


def test_the_multiples_of_the_seed_style_baselines() -> None:
    lines, numbers = targets(rows(seed_drain=300, seed_chain=400))
    assert numbers["seed_drain"] == 300
    assert any("12,000/s = 40 × its 300/s" in line for line in lines), lines
    assert any("| 8.8 × its 400/s" in line for line in lines), lines


def test_a_baseline_measured_as_zero_has_no_multiple_and_breaks_nothing() -> None:
    lines, _ = targets(rows(seed_drain=0, seed_chain=0))
    assert any("12,000/s = ∞ × its 0/s" in line for line in lines), lines
    assert any("| ∞ × its 0/s" in line for line in lines), lines
