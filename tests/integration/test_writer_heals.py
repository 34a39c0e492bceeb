"""The writer heals itself after the broker dies with sales in flight (kafka_repair), and says not-ready
while it cannot produce. Against the real broker of the session, frozen, killed and started again. (A
broker frozen and resumed is the `SIGSTOP kafka` row of the fault matrix, tests/integration/test_chaos.py.)"""

from __future__ import annotations

import signal
import threading
import time

import pytest
import valkey

from bftools.stack.kafka import KafkaBroker
from bftools.stack.services import Pipeline, http_ok
from tests.integration.conftest import PARTITIONS
from tests.integration.helpers import (
    Outcome,
    assert_each_stored_sale_counted_once,
    known_sales,
    metric,
    post_one,
    until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def keep_posting(pipeline: Pipeline, outcomes: list[Outcome], stop: threading.Event) -> threading.Thread:
    """Eight clients posting sales back to back until ``stop``; every answer in ``outcomes``."""

    def client(seed: int) -> None:
        for body in known_sales(100_000, seed=seed):
            if stop.is_set():
                return
            outcomes.append(post_one(pipeline.api_url, body, timeout=10))

    def run_clients() -> None:
        threads = [threading.Thread(target=client, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    runner = threading.Thread(target=run_clients)
    runner.start()
    return runner


def test_the_broker_lost_under_load_the_writer_heals_without_a_restart(
    pipeline: Pipeline, kafka: KafkaBroker, valkey_client: valkey.Valkey
) -> None:
    pipeline.start_all()
    outcomes: list[Outcome] = []
    stop = threading.Event()
    poster = keep_posting(pipeline, outcomes, stop)
    try:
        until(lambda: sum(o.stored for o in outcomes) > 200, 60, "sales to flow")
        assert kafka.proc is not None
        # Freeze it first, so that the writer has requests in flight when it dies (the bug's condition).
        kafka.proc.signal(signal.SIGSTOP)
        pending = metric(pipeline.writer_metrics_url, 'bf_writer_sales_total{outcome="timeout"}')
        until(
            lambda: metric(pipeline.writer_metrics_url, 'bf_writer_sales_total{outcome="timeout"}') > pending,
            30,
            "the writer to wait on the frozen broker",
        )
        kafka.proc.signal(signal.SIGKILL)
        # Not ready while it cannot produce: the writer's probe, and through it the api's.
        until(lambda: not http_ok(pipeline.ready_url("writer")), 30, "the writer to say not ready")
        until(lambda: not http_ok(pipeline.ready_url("api")), 30, "the api to say not ready")
        # Longer than the writer's delivery timeout (5 s): the batches in flight expire in the producer.
        down_since = time.monotonic()
        until(lambda: time.monotonic() - down_since > 8, 10, "the outage to outlast the delivery timeout")
        kafka.start(kafka.home / "kafka-restarted.log")
        back = len(outcomes)
        until(lambda: any(o.stored for o in outcomes[back:]), 15, "201s within 15 s of the broker's return")
        until(lambda: http_ok(pipeline.ready_url("writer")), 15, "the writer to say ready again")
        until(lambda: http_ok(pipeline.ready_url("api")), 15, "the api to say ready again")
        more = len(outcomes)
        until(lambda: sum(o.stored for o in outcomes[more:]) > 100, 30, "sales to flow again")
    finally:
        stop.set()
        poster.join(60)
        if kafka.proc is not None:
            kafka.proc.signal(signal.SIGCONT)
    assert pipeline.procs["writer"].alive()  # healed, not restarted
    assert pipeline.procs["consumer"].alive()  # waited for the broker, did not die of its absence
    assert_each_stored_sale_counted_once(valkey_client, pipeline, outcomes, PARTITIONS)
