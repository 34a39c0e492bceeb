"""The consumer loop with a fake Kafka consumer and a fake store: commit only after apply, poison skipped."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import valkey
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, TopicAuthorizationFailedError
from prometheus_client import CollectorRegistry, generate_latest

from blackfriday.consumer.dead_letters import Poison
from blackfriday.consumer.loop import ConsumerLoop, ConsumerMetrics
from blackfriday.consumer.store import Applied
from blackfriday.sale import Category, Sale


@dataclass
class Record:
    value: bytes | None
    partition: int = 0
    offset: int = 0
    topic: str = "sales-topic"
    key: bytes | None = None


class FakeDeadLetters:
    """Keeps what the loop hands it; fails ``failures`` times first (KafkaError, as when the topic is missing)."""

    def __init__(self, log: list[str], failures: int = 0) -> None:
        self.log = log
        self.kept: list[tuple[bytes | None, str]] = []
        self.failures = failures

    def keep(self, poison: Sequence[Poison]) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaTimeoutError("dead-letter topic unavailable")
        self.log.append("keep")
        self.kept += [(p.record.value, p.error) for p in poison]


def sale(i: int) -> Sale:
    return Sale(f"id-{i}", 1_700_000_000_000, Category.Hogar, "Sofa", 1000, 1)


class FakeConsumer:
    """Hands out ``batches``; a batch that is an exception is raised by that poll instead."""

    def __init__(self, batches: list[list[Record] | Exception], stop: threading.Event, log: list[str]) -> None:
        self._batches = batches
        self._stop = stop
        self.log = log

    def poll(self, timeout_ms: int, max_records: int) -> dict[str, list[Record]]:
        if self._batches and isinstance(failure := self._batches[0], Exception):
            self._batches.pop(0)
            self.log.append("poll failed")
            raise failure
        if not self._batches:
            self._stop.set()
            return {}
        self.log.append("poll")
        batch = self._batches.pop(0)
        assert isinstance(batch, list)
        return {"tp": batch}

    def commit_async(self, callback: Any) -> None:
        self.log.append("commit")
        callback({}, None)

    def commit(self, timeout_ms: int) -> None:
        self.log.append("final commit")

    def highwater(self, partition: Any) -> int:
        return 10


class FakeStore:
    def __init__(self, log: list[str], failures: int = 0, stop: threading.Event | None = None) -> None:
        self.log = log
        self.applied: list[list[str]] = []
        self.failures = failures
        self.stop_on_failure = stop

    def apply(self, sales: Sequence[Sale]) -> Applied:
        if self.failures:
            self.failures -= 1
            if self.stop_on_failure is not None:
                self.stop_on_failure.set()
            raise valkey.ConnectionError("Valkey down")
        self.log.append("apply")
        self.applied.append([s.id for s in sales])
        return Applied(len(sales), 0)

    def tick(self) -> None:
        self.log.append("tick")


def run(
    batches: list[list[Record] | Exception],
    store_failures: int = 0,
    stop_on_failure: bool = False,
    dead_letters: FakeDeadLetters | None = None,
) -> tuple[list[str], FakeStore, str]:
    stop = threading.Event()
    log = dead_letters.log if dead_letters else []
    store = FakeStore(log, store_failures, stop if stop_on_failure else None)
    registry = CollectorRegistry()
    loop = ConsumerLoop(
        FakeConsumer(batches, stop, log),
        store,  # type: ignore[arg-type]
        ConsumerMetrics(registry),
        batch_max=500,
        poll_timeout_ms=10,
        stop=stop,
        dead_letters=dead_letters,  # type: ignore[arg-type]
    )
    loop.run()
    return log, store, generate_latest(registry).decode()


def test_offsets_are_committed_only_after_the_batch_is_applied() -> None:
    log, store, _ = run([[Record(sale(1).to_json()), Record(sale(2).to_json(), offset=1)]])
    assert log == ["poll", "apply", "commit", "tick", "final commit"]  # an idle poll closes the throughput second
    assert store.applied == [["id-1", "id-2"]]


def test_a_record_that_is_not_a_sale_is_kept_as_a_dead_letter_before_the_commit() -> None:
    dead_letters = FakeDeadLetters([])
    batch = [Record(b"{oops"), Record(sale(3).to_json(), offset=1), Record(b'{"id": 1}', offset=2), Record(None, 3)]
    log, store, metrics = run([batch], dead_letters=dead_letters)
    assert store.applied == [["id-3"]]
    assert log == [
        "poll",
        "keep",
        "apply",
        "commit",
        "tick",
        "final commit",
    ]  # an idle poll closes the throughput second
    assert [value for value, _ in dead_letters.kept] == [b"{oops", b'{"id": 1}', None]
    assert all(error for _, error in dead_letters.kept)
    assert 'bf_consumer_records_total{outcome="invalid"} 3.0' in metrics
    assert "bf_consumer_dead_letters_total 3.0" in metrics


def test_the_batch_waits_while_the_dead_letter_topic_fails() -> None:
    dead_letters = FakeDeadLetters([], failures=2)
    log, store, metrics = run([[Record(b"{oops"), Record(sale(4).to_json(), offset=1)]], dead_letters=dead_letters)
    assert log == ["poll", "keep", "apply", "commit", "tick", "final commit"]
    assert "bf_consumer_dead_letter_errors_total 2.0" in metrics
    assert store.applied == [["id-4"]]


def test_without_a_dead_letter_topic_poison_is_logged_counted_and_skipped() -> None:
    log, store, metrics = run([[Record(b"{oops"), Record(sale(3).to_json(), offset=1)]])
    assert store.applied == [["id-3"]]
    assert log == ["poll", "apply", "commit", "tick", "final commit"]
    assert 'bf_consumer_records_total{outcome="invalid"} 1.0' in metrics


def test_valkey_errors_are_retried_before_committing() -> None:
    log, _, metrics = run([[Record(sale(1).to_json())]], store_failures=2)
    assert log == ["poll", "apply", "commit", "tick", "final commit"]  # an idle poll closes the throughput second
    assert "bf_consumer_valkey_errors_total 2.0" in metrics


def test_stopping_while_valkey_fails_leaves_the_batch_uncommitted() -> None:
    log, store, _ = run([[Record(sale(1).to_json())]], store_failures=5, stop_on_failure=True)
    assert log == ["poll"]
    assert store.applied == []


def test_the_loop_outlives_kafka_being_away_and_consumes_when_it_is_back() -> None:
    refused = KafkaConnectionError("111 ECONNREFUSED")
    log, store, metrics = run([refused, refused, [Record(sale(1).to_json())]])
    assert log == ["poll failed", "poll failed", "poll", "apply", "commit", "tick", "final commit"]
    assert store.applied == [["id-1"]]
    assert "bf_consumer_kafka_errors_total 2.0" in metrics


def test_a_kafka_error_that_retrying_cannot_fix_stops_the_loop() -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        run([TopicAuthorizationFailedError("not allowed to read sales-topic")])
