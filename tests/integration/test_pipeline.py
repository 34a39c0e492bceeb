"""The whole pipeline on a real Kafka broker and a real Valkey server: the dashboard's figures are exact."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from bftools.stack.kafka import KafkaBroker
from bftools.stack.services import Pipeline, http_ok
from tests.integration.conftest import PARTITIONS
from tests.integration.helpers import (
    known_sales,
    make_report,
    metric,
    post_one,
    post_sales,
    topic_size,
    tracked_prices,
    until,
    wait_total,
)
from tests.model import expected_report

pytestmark = pytest.mark.integration


def test_known_sales_give_exactly_the_expected_report(pipeline: Pipeline) -> None:
    pipeline.start_all()
    bodies = known_sales(300)
    # The focus category's first sale goes alone, so that "first product seen" is known.
    first = post_one(
        pipeline.api_url, {"categoria": "belleza", "producto_id": "Base-Liquida", "precio": 99.5, "cantidad_vendida": 1}
    )
    assert first.status == 201, first.answer
    wait_total(pipeline, 1)
    outcomes = [first, *post_sales(pipeline.api_url, bodies)]
    assert [o.status for o in outcomes] == [201] * len(outcomes), {o.status for o in outcomes}
    assert len({o.answer["id"] for o in outcomes}) == len(outcomes)

    wait_total(pipeline, len(outcomes))
    expected = expected_report(
        [o.line() for o in outcomes], "Belleza", "Base-Liquida", tracked_prices(outcomes, "Base-Liquida")
    )
    assert make_report(pipeline) == expected


def test_bad_inputs_get_4xx_and_nothing_is_counted(pipeline: Pipeline, kafka: KafkaBroker, topic: str) -> None:
    pipeline.start_all()
    bad_bodies = [
        {"categoria": 9, "producto_id": "x", "precio": 1, "cantidad_vendida": 1},
        {"categoria": 1, "producto_id": "", "precio": 1, "cantidad_vendida": 1},
        {"categoria": 1, "producto_id": "x", "precio": -1, "cantidad_vendida": 1},
        {"categoria": 1, "producto_id": "x", "precio": 1, "cantidad_vendida": 0},
        {"categoria": 1, "producto_id": "x", "precio": 1},
        {"categoria": 1, "producto_id": "x", "precio": 1, "cantidad_vendida": 1, "extra": True},
    ]
    for outcome in post_sales(pipeline.api_url, bad_bodies):
        assert outcome.status == 422
        assert outcome.answer["fields"]
    raw = httpx.post(
        f"{pipeline.api_url}/purchase", content=b'{"precio": NaN', headers={"content-type": "application/json"}
    )
    assert raw.status_code == 400
    assert (
        httpx.post(
            f"{pipeline.api_url}/purchase", content=b"x" * 10_000, headers={"content-type": "application/json"}
        ).status_code
        == 413
    )
    assert (
        httpx.post(f"{pipeline.api_url}/purchase", content=b"{}", headers={"content-type": "text/csv"}).status_code
        == 415
    )

    good = post_one(pipeline.api_url, {"categoria": 2, "producto_id": "Jeans", "precio": 10, "cantidad_vendida": 1})
    assert good.status == 201
    report = wait_total(pipeline, 1)
    assert report["total_sales"] == 1
    assert list(report["categories"]) == ["Ropa"]
    assert topic_size(kafka.client_config(), topic, PARTITIONS) == 1  # nothing but the good sale reached Kafka


def test_two_consumers_keep_every_aggregate_exact(pipeline: Pipeline) -> None:
    pipeline.extra_env["consumer"]["BATCH_MAX"] = "20"  # many small batches: more interleaving
    pipeline.start_all(consumers=2)
    first = post_one(
        pipeline.api_url, {"categoria": 4, "producto_id": "Labial-Matte", "precio": 50, "cantidad_vendida": 1}
    )
    wait_total(pipeline, 1)
    outcomes = [first, *post_sales(pipeline.api_url, known_sales(600, seed=7), concurrency=24)]
    assert all(o.stored for o in outcomes)
    wait_total(pipeline, len(outcomes))
    expected = expected_report(
        [o.line() for o in outcomes], "Belleza", "Labial-Matte", tracked_prices(outcomes, "Labial-Matte")
    )
    assert make_report(pipeline) == expected
    applied = [
        metric(f"http://127.0.0.1:{pipeline.consumer_ports[c]}/metrics", 'bf_consumer_records_total{outcome="applied"}')
        for c in ("consumer", "consumer-2")
    ]
    assert all(a > 0 for a in applied), applied  # both consumers did part of the work
    assert sum(applied) == len(outcomes)


def smoke_sale(pipeline: Pipeline, timeout: int) -> subprocess.CompletedProcess[str]:
    """`bf-smoke sale` as the helm test pod runs it (as Valkey's read-only reader), against this pipeline."""
    argv = [
        sys.executable,
        "-m",
        "blackfriday.smoke",
        "sale",
        f"--api={pipeline.api_url}",
        f"--valkey={pipeline.valkey_addr}",
        f"--topic={pipeline.topic}",
        f"--timeout={timeout}",
    ]
    env = {**os.environ, **pipeline.valkey_login("reader").env()}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30, check=False, env=env)


def test_the_helm_smoke_check_passes_on_a_real_pipeline(pipeline: Pipeline) -> None:
    pipeline.start_all()
    done = smoke_sale(pipeline, 60)
    assert done.returncode == 0, done.stderr
    assert "counted sale" in done.stdout


def test_the_helm_smoke_check_fails_clearly_when_the_api_is_down(pipeline: Pipeline) -> None:
    done = smoke_sale(pipeline, 2)
    assert done.returncode == 1
    assert done.stderr.startswith("bf-smoke sale: api at ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_consumer_started_before_its_topic_exists_consumes_once_it_does(
    pipeline: Pipeline, kafka: KafkaBroker
) -> None:
    """On Kubernetes the topic operator may make the topic after the consumer pod starts."""
    pipeline.topic = f"later-{uuid.uuid4().hex[:8]}"
    pipeline.group = f"group-{pipeline.topic}"
    pipeline.start("consumer", wait=False)
    until(lambda: not http_ok(pipeline.ready_url("consumer")), 30, "the consumer to run, not ready")
    kafka.create_pipeline(pipeline.topic, pipeline.group, PARTITIONS)  # the topics, and the services' ACLs
    until(lambda: http_ok(pipeline.ready_url("consumer")), 60, "the consumer to subscribe once the topic exists")
    for name in ("writer", "bridge", "api"):
        pipeline.start(name)
    outcomes = post_sales(pipeline.api_url, known_sales(50, seed=9))
    assert all(o.stored for o in outcomes)
    assert wait_total(pipeline, len(outcomes))["total_sales"] == len(outcomes)
