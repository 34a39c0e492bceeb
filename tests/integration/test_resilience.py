"""Failures on the real pipeline: killed consumers, redelivery, Kafka down, SIGTERM of every service."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest
import valkey
from kafka.consumer import KafkaConsumer
from kafka.structs import OffsetAndMetadata, TopicPartition

from bftools.stack.kafka import KafkaBroker
from bftools.stack.services import Pipeline, http_ok
from tests.integration.conftest import PARTITIONS
from tests.integration.helpers import (
    Outcome,
    assert_each_stored_sale_counted_once,
    known_sales,
    make_report,
    metric,
    post_one,
    post_sales,
    report_now,
    tracked_prices,
    until,
    wait_total,
)
from tests.model import expected_report

pytestmark = pytest.mark.integration

FIRST = {"categoria": 4, "producto_id": "Crema-Hidratante", "precio": 80, "cantidad_vendida": 1}


def start_with_known_focus(pipeline: Pipeline) -> Outcome:
    first = post_one(pipeline.api_url, FIRST)
    assert first.stored, first.answer
    wait_total(pipeline, 1)
    return first


def expected_for(outcomes: list[Outcome]) -> dict[str, Any]:
    stored = [o for o in outcomes if o.stored]
    return expected_report(
        [o.line() for o in stored], "Belleza", "Crema-Hidratante", tracked_prices(stored, "Crema-Hidratante")
    )


def test_consumer_killed_mid_stream_then_restarted_counts_every_sale_once(pipeline: Pipeline) -> None:
    pipeline.extra_env["consumer"]["BATCH_MAX"] = "25"
    pipeline.start_all()
    outcomes = [start_with_known_focus(pipeline)]
    bodies = known_sales(800, seed=11)
    poster = threading.Thread(target=lambda: outcomes.extend(post_sales(pipeline.api_url, bodies, concurrency=8)))
    poster.start()
    until(lambda: report_now(pipeline)["total_sales"] > 100, 60, "the consumer to be mid-stream")
    pipeline.procs["consumer"].signal(signal.SIGKILL)
    until(lambda: not pipeline.procs["consumer"].alive(), 10, "the consumer to die")
    counted_at_kill = report_now(pipeline)["total_sales"]
    pipeline.start("consumer")
    poster.join()
    assert all(o.stored for o in outcomes)
    assert counted_at_kill < len(outcomes)  # the kill did happen mid-stream
    wait_total(pipeline, len(outcomes))
    assert make_report(pipeline) == expected_for(outcomes)


def test_redelivered_sales_are_applied_once(pipeline: Pipeline, kafka: KafkaBroker, topic: str) -> None:
    pipeline.start_all()
    outcomes = [start_with_known_focus(pipeline), *post_sales(pipeline.api_url, known_sales(200, seed=5))]
    wait_total(pipeline, len(outcomes))
    before = make_report(pipeline)
    assert before == expected_for(outcomes)

    # Rewind the group to the start of every partition: Kafka delivers all of it again.
    assert pipeline.stop("consumer")
    rewind = KafkaConsumer(**kafka.client_config(), group_id=pipeline.group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        rewind.assign(partitions)
        rewind.commit({tp: OffsetAndMetadata(0, "", -1) for tp in partitions})
    finally:
        rewind.close()
    pipeline.start("consumer")
    metrics = f"http://127.0.0.1:{pipeline.consumer_ports['consumer']}/metrics"
    until(
        lambda: metric(metrics, 'bf_consumer_records_total{outcome="duplicate"}') == len(outcomes),
        60,
        "every redelivered sale to be recognised",
    )
    assert metric(metrics, 'bf_consumer_records_total{outcome="applied"}') == 0
    assert make_report(pipeline) == before


def test_kafka_down_gives_503_and_the_pipeline_resumes_when_it_is_back(
    pipeline: Pipeline, kafka: KafkaBroker, valkey_client: valkey.Valkey
) -> None:
    pipeline.start_all()
    outcomes = [start_with_known_focus(pipeline)]
    kafka.stop()
    try:
        down = post_one(pipeline.api_url, {"categoria": 1, "producto_id": "TV", "precio": 10, "cantidad_vendida": 1})
        assert down.status == 503
        assert down.answer["reason"] in (
            "the pipeline cannot store sales right now",
            "the sale was not acknowledged in time",
        )
        assert down.answer["stored"] == "unknown"
        assert down.answer["id"]
    finally:
        kafka.start(kafka.home / "kafka-restarted.log")
    until(lambda: http_ok(pipeline.ready_url("writer")), 60, "the writer to see Kafka again")

    def stores_again() -> bool:
        outcomes.append(
            post_one(pipeline.api_url, {"categoria": 2, "producto_id": "Jeans", "precio": 20, "cantidad_vendida": 1})
        )
        return outcomes[-1].stored

    until(stores_again, 60, "the pipeline to store sales again")
    more = post_sales(pipeline.api_url, known_sales(50, seed=3))
    assert all(o.stored for o in more)  # once resumed, every sale is stored
    outcomes += more
    # A 503 only says "not known to be stored": a refused sale may have landed after all, and is then
    # counted once like any other.
    outcomes.append(down)
    assert_each_stored_sale_counted_once(valkey_client, pipeline, outcomes, PARTITIONS)
    if make_report(pipeline)["total_sales"] == sum(o.stored for o in outcomes):
        assert make_report(pipeline) == expected_for(outcomes)


@pytest.mark.parametrize("service", ["api", "bridge", "writer", "consumer"])
def test_sigterm_exits_cleanly_and_loses_nothing(
    pipeline: Pipeline, valkey_client: valkey.Valkey, service: str
) -> None:
    pipeline.start_all()
    outcomes = [start_with_known_focus(pipeline)]
    stop_posting = threading.Event()

    def keep_posting() -> None:
        for body in known_sales(2000, seed=17):
            if stop_posting.is_set():
                return
            outcomes.append(post_one(pipeline.api_url, body, timeout=10))

    poster = threading.Thread(target=keep_posting)
    poster.start()
    until(lambda: sum(o.stored for o in outcomes) > 30, 60, "sales to flow")
    proc = pipeline.procs[service]
    assert proc.stop(timeout=30), f"{service} did not exit on SIGTERM"
    assert proc.returncode == 0, f"{service} exited {proc.returncode}"
    pipeline.start(service)
    until(lambda: sum(o.stored for o in outcomes) > 60, 60, f"sales to flow again after restarting the {service}")
    stop_posting.set()
    poster.join()

    assert_each_stored_sale_counted_once(valkey_client, pipeline, outcomes, PARTITIONS)
