"""Hostile input and hostile clients against the real processes (api -> bridge -> writer -> Kafka -> consumer).

- the schema-driven fuzzer (schemathesis) on the OpenAPI document the api serves: every answer to what the
  schema refuses is a JSON 4xx and nothing reaches Kafka; what it allows is 201 or a named 422, never 5xx;
- records on the topic that are not sales go to the dead-letter topic, and processing goes on;
- slow clients (half a body), too many sales in flight: each is answered or cut off, and the api keeps
  serving (connections, header timeouts and the drain: test_connections.py).
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from kafka import KafkaConsumer, KafkaProducer
from schemathesis import GenerationMode

from bftools.stack.kafka import KafkaBroker
from bftools.stack.services import Pipeline
from blackfriday.api.openapi import OPENAPI
from tests.integration.conftest import PARTITIONS
from tests.integration.helpers import metric, post_one, post_sales, topic_size, until, wait_total

pytestmark = pytest.mark.integration

SALE = {"categoria": 3, "producto_id": "Sofa", "precio": 499.99, "cantidad_vendida": 1}
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PURCHASE = schemathesis.openapi.from_dict(OPENAPI)["/purchase"]["POST"]


@pytest.fixture
def running(pipeline: Pipeline) -> Pipeline:
    pipeline.start_all()
    return pipeline


@pytest.fixture
def strict(pipeline: Pipeline) -> Pipeline:
    """The api with a short body timeout."""
    pipeline.extra_env["api"].update({"BODY_TIMEOUT_SECONDS": "1"})
    pipeline.start_all()
    return pipeline


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """One keep-alive connection for every fuzzed request, as a well-behaved client has."""
    with requests.Session() as client:
        yield client


def test_the_api_serves_the_openapi_document_the_fuzzer_uses(running: Pipeline) -> None:
    assert httpx.get(f"{running.api_url}/openapi.json", timeout=10).json() == json.loads(json.dumps(OPENAPI))


def test_fuzzed_bodies_the_schema_refuses_are_json_4xx_and_never_reach_kafka(
    running: Pipeline, kafka: KafkaBroker, topic: str, session: requests.Session
) -> None:
    answers: list[int] = []

    @FUZZ
    @given(case=PURCHASE.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def fuzz(case: Any) -> None:  # a schemathesis.Case
        response = case.call(base_url=running.api_url, session=session, timeout=10)
        answers.append(response.status_code)
        assert 400 <= response.status_code < 500, (case.body, response.status_code, response.text)
        assert response.headers["content-type"][0].startswith("application/json")
        assert response.json()["error"]

    fuzz()
    assert len(answers) >= 50
    assert topic_size(kafka.client_config(), topic, PARTITIONS) == 0
    assert post_one(running.api_url, SALE).stored  # and the api still serves
    assert topic_size(kafka.client_config(), topic, PARTITIONS) == 1


def test_fuzzed_bodies_the_schema_allows_are_stored_or_refused_by_name_never_5xx(
    running: Pipeline, kafka: KafkaBroker, topic: str, session: requests.Session
) -> None:
    stored = 0

    @FUZZ
    @given(case=PURCHASE.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def fuzz(case: Any) -> None:  # a schemathesis.Case
        nonlocal stored
        response = case.call(base_url=running.api_url, session=session, timeout=10)
        assert response.status_code in (201, 422), (case.body, response.status_code, response.text)
        if response.status_code == 422:  # the schema is looser than the api: a price under half a cent, ...
            assert set(response.json()["fields"]) <= {"producto_id", "precio"}
        stored += response.status_code == 201

    fuzz()
    assert stored > 0
    assert topic_size(kafka.client_config(), topic, PARTITIONS) == stored  # every 201, and only those, is in Kafka
    wait_total(running, stored)


def test_records_that_are_not_sales_go_to_the_dead_letter_topic_and_processing_goes_on(
    running: Pipeline, kafka: KafkaBroker, topic: str
) -> None:
    poison = [b"{oops", b'{"id": "x"}', json.dumps({**SALE, "id": "p1", "accepted_at_ms": 1, "precio": -5}).encode()]
    # Only the writer's login may write the topic: these come as from a writer with a bug.
    producer = KafkaProducer(**kafka.client_config("writer"), acks="all")
    try:
        for value in poison:
            producer.send(topic, key=b"poison", value=value).get(timeout=30)
    finally:
        producer.close()
    outcomes = post_sales(running.api_url, [SALE] * 20)
    assert all(o.stored for o in outcomes)
    wait_total(running, 20)

    dead = KafkaConsumer(
        f"{topic}-dlq", **kafka.client_config(), auto_offset_reset="earliest", consumer_timeout_ms=20_000
    )
    try:
        kept = [record for record, _ in zip(dead, poison, strict=False)]
    finally:
        dead.close()
    assert sorted(r.value for r in kept) == sorted(poison)
    headers = [dict(r.headers) for r in kept]
    assert all(h["bf-error"] for h in headers)
    assert all(h["bf-source"].decode().startswith(f"{topic}/") for h in headers)
    metrics = f"http://127.0.0.1:{running.consumer_ports['consumer']}/metrics"
    assert metric(metrics, 'bf_consumer_records_total{outcome="invalid"}') == 3
    assert metric(metrics, "bf_consumer_dead_letters_total") == 3


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(4096):
            data += chunk
    return data


def test_a_client_that_sends_half_a_body_gets_408_and_is_disconnected(strict: Pipeline) -> None:
    with _connect(strict.api_port) as sock:
        sock.sendall(
            b"POST /purchase HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n"
            b'{"categoria": 3,'
        )
        answer = _read_until_closed(sock)  # the server closes it after BODY_TIMEOUT_SECONDS (1 s)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"request timeout"' in answer


def test_sales_beyond_the_in_flight_limit_are_shed_at_once_and_throughput_recovers(pipeline: Pipeline) -> None:
    """With the writer frozen, MAX_IN_FLIGHT sales wait; every other is answered 503 at once, never stored."""
    pipeline.extra_env["api"].update({"MAX_IN_FLIGHT": "16", "FORWARD_TIMEOUT_SECONDS": "20"})
    # The 16 must wait out the whole shedding (seconds on a busy machine), not the bridge's usual 6 s deadline.
    pipeline.extra_env.setdefault("bridge", {})["GRPC_TIMEOUT_SECONDS"] = "18"
    pipeline.start_all()
    writer = pipeline.procs["writer"]
    writer.signal(signal.SIGSTOP)
    results: list[Any] = []
    try:
        waiting = threading.Thread(target=lambda: results.extend(post_sales(pipeline.api_url, [SALE] * 16, 16, 60)))
        waiting.start()
        metrics = f"{pipeline.api_url}/metrics"
        until(lambda: metric(metrics, "bf_api_sales_in_flight") == 16, 20, "16 sales waiting on the writer")
        shed = post_sales(pipeline.api_url, [SALE] * 400, concurrency=32, timeout=10)
        assert waiting.is_alive()  # the first 16 are still waiting on the frozen writer
    finally:
        writer.signal(signal.SIGCONT)
    waiting.join(60)
    assert {o.status for o in shed} == {503}
    assert {o.answer["reason"] for o in shed} == {"too many sales in flight"}
    assert {o.answer["stored"] for o in shed} == {"no"}
    assert {o.answer["retry_after_seconds"] for o in shed} == {1}
    assert metric(metrics, "bf_api_sales_in_flight_refused_total") == 400
    assert len(results) == 16
    stored = sum(o.stored for o in results)
    after = post_sales(pipeline.api_url, [SALE] * 50, concurrency=8)
    assert all(o.stored for o in after)  # throughput is back once the writer is
    wait_total(pipeline, stored + 50)
