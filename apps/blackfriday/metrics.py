"""Prometheus metrics: one registry per service instance (no import-time globals), with process metrics.

The two kinds of histogram the pipeline has (latencies, batch sizes) share their buckets everywhere, so
dashboards can compare hops; ``latency`` and ``batch_sizes`` make them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from prometheus_client import CollectorRegistry, GCCollector, Histogram, PlatformCollector, ProcessCollector

#: Latency buckets (seconds) shared by every histogram of the pipeline: 1 ms .. 10 s.
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: bf_ready: every service's readiness, as fresh as each scrape (the alerts' "no api pod ready").
READY_HELP: Final = "1 while the service is ready to do its work (what /readyz answers), 0 otherwise"
#: Batch size buckets (sales per batch).
BATCH_BUCKETS: Final = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


def new_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def latency(registry: CollectorRegistry, name: str, documentation: str, labels: Sequence[str] = ()) -> Histogram:
    """A histogram of durations in seconds (1 ms .. 10 s)."""
    return Histogram(name, documentation, labels, buckets=LATENCY_BUCKETS, registry=registry)


def batch_sizes(registry: CollectorRegistry, name: str, documentation: str) -> Histogram:
    """A histogram of how many sales (or records) went together (1 .. 1000)."""
    return Histogram(name, documentation, buckets=BATCH_BUCKETS, registry=registry)
