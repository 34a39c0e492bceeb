"""The consumer loop: poll a batch, apply it to Valkey in one script call, then commit its offsets.

Offsets are committed only after the batch's effect is in Valkey. A crash between the two makes Kafka
deliver the batch again; the script skips every sale whose id it has applied before, so each sale counts
exactly once. A record that is not a valid sale is logged, counted and copied to the dead-letter topic
before the commit (it cannot block its partition, and is kept for inspection). While Valkey or the
dead-letter topic fails, the batch is retried with backoff and stays uncommitted. While Kafka is away (a
poll that fails with a retriable error), the loop backs off and polls again: the process stays up and
rejoins its group when the broker is back; only a non-retriable error (no authorisation, say) stops it.
SIGTERM only asks the loop to stop: the batch in hand is finished and committed first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import valkey
from kafka.errors import CommitFailedError, KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from blackfriday.consumer.dead_letters import DeadLetters, Poison
from blackfriday.consumer.store import Store
from blackfriday.metrics import batch_sizes, latency
from blackfriday.readiness import Heartbeat
from blackfriday.sale import Sale, sale_from_json

log = logging.getLogger(__name__)


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            "bf_consumer_records", "Kafka records handled, by outcome", ["outcome"], registry=registry
        )
        self.batch_size = batch_sizes(registry, "bf_consumer_batch_size", "Records per poll")
        self.apply_seconds = latency(registry, "bf_consumer_apply_seconds", "Time to apply one batch to Valkey")
        self.lag = Gauge("bf_consumer_lag", "Records behind the end of the assigned partitions", registry=registry)
        self.valkey_errors = Counter("bf_consumer_valkey_errors", "Failed attempts to apply a batch", registry=registry)
        self.dead_letters = Counter(
            "bf_consumer_dead_letters", "Records that are not sales, copied to the dead-letter topic", registry=registry
        )
        self.dead_letter_errors = Counter(
            "bf_consumer_dead_letter_errors",
            "Failed attempts to copy records to the dead-letter topic",
            registry=registry,
        )
        self.kafka_errors = Counter(
            "bf_consumer_kafka_errors", "Polls that failed with a retriable Kafka error", registry=registry
        )
        self.commit_errors = Counter(
            "bf_consumer_commit_errors",
            "Offset commits that failed (the batch will be redelivered)",
            registry=registry,
        )


class ConsumerLoop:
    def __init__(
        self,
        consumer: Any,
        store: Store,
        metrics: ConsumerMetrics,
        *,
        batch_max: int,
        poll_timeout_ms: int,
        stop: threading.Event,
        dead_letters: DeadLetters | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._metrics = metrics
        self._batch_max = batch_max
        self._poll_timeout_ms = poll_timeout_ms
        self._stop = stop
        self._dead_letters = dead_letters
        #: Beats at every turn of the loop, for the liveness probe.
        self.heartbeat = heartbeat or Heartbeat()

    def run(self) -> None:
        backoff = _Backoff()
        while not self._stop.is_set():
            self.heartbeat.beat()
            try:
                polled = self._consumer.poll(timeout_ms=self._poll_timeout_ms, max_records=self._batch_max)
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                self._metrics.kafka_errors.inc()
                delay = backoff.next()
                log.warning("cannot poll Kafka, retrying", extra={"error": str(exc)[:300], "retry_in": delay})
                self._stop.wait(delay)
                continue
            backoff.reset()
            records = [record for batch in polled.values() for record in batch]
            if not records:
                self._tick()
                continue
            self._metrics.batch_size.observe(len(records))
            sales, poison = self._decode(records)
            if poison and not self._retry(partial(self._keep, poison), "copy records to the dead-letter topic"):
                return  # asked to stop while it was failing: leave the batch uncommitted
            if sales and not self._retry(partial(self._apply, sales), "apply the batch to Valkey"):
                return
            self._commit()
            self._update_lag(polled)
        self._final_commit()
        log.info("consumer loop stopped")

    def _decode(self, records: list[Any]) -> tuple[list[Sale], list[Poison]]:
        sales: list[Sale] = []
        poison: list[Poison] = []
        for record in records:
            try:
                if not isinstance(record.value, bytes):
                    raise ValueError("no value (a tombstone)")
                sales.append(sale_from_json(record.value))
            except ValueError as exc:  # UnicodeDecodeError and InvalidSale included
                self._metrics.records.labels("invalid").inc()
                log.error(
                    "a record that is not a valid sale: keeping it on the dead-letter topic",
                    extra={"partition": record.partition, "offset": record.offset, "error": str(exc)[:300]},
                )
                poison.append(Poison(record, str(exc)[:1000]))
        return sales, poison

    def _retry(self, action: Callable[[], None], what: str) -> bool:
        """Run ``action`` until it succeeds (True), backing off up to 5 s; False when asked to stop first."""
        backoff = _Backoff()
        while True:
            try:
                action()
            except (valkey.ValkeyError, KafkaError) as exc:
                delay = backoff.next()
                log.warning(f"cannot {what}, retrying", extra={"error": str(exc)[:300], "retry_in": delay})
                if self._stop.wait(delay):
                    return False
                self.heartbeat.beat()
            else:
                return True

    def _keep(self, poison: list[Poison]) -> None:
        if self._dead_letters is None:
            return  # no dead-letter topic configured: the records are only logged and counted
        try:
            self._dead_letters.keep(poison)
        except KafkaError:
            self._metrics.dead_letter_errors.inc()
            raise
        self._metrics.dead_letters.inc(len(poison))

    def _apply(self, sales: list[Sale]) -> None:
        started = time.perf_counter()
        try:
            result = self._store.apply(sales)
        except valkey.ValkeyError:
            self._metrics.valkey_errors.inc()
            raise
        self._metrics.apply_seconds.observe(time.perf_counter() - started)
        self._metrics.records.labels("applied").inc(result.applied)
        self._metrics.records.labels("duplicate").inc(result.duplicates)
        if result.duplicates:
            log.info("skipped redelivered sales", extra={"duplicates": result.duplicates})

    def _commit(self) -> None:
        """Commit the batch's offsets without waiting for the broker's answer: the next poll overlaps it. A
        commit lost with a crash only makes Kafka deliver the batch again, and its sales are skipped (the
        script remembers their ids). The loop's last commit, at its end, waits."""
        self._consumer.commit_async(callback=self._committed)

    def _committed(self, offsets: Any, result: Any) -> None:
        if isinstance(result, CommitFailedError):
            self._metrics.commit_errors.inc()
            log.warning(
                "offset commit refused after a rebalance; the batch will be redelivered and skipped",
                extra={"error": str(result)[:300]},
            )
        elif isinstance(result, Exception):
            self._metrics.commit_errors.inc()
            log.warning("offset commit failed; the next one covers it", extra={"error": str(result)[:300]})

    def _final_commit(self) -> None:
        try:
            self._consumer.commit(timeout_ms=10_000)
        except CommitFailedError as exc:
            self._metrics.commit_errors.inc()
            log.warning(
                "offset commit refused after a rebalance; the batch will be redelivered and skipped",
                extra={"error": str(exc)[:300]},
            )
        except KafkaError as exc:
            self._metrics.commit_errors.inc()
            log.warning("offset commit failed; will be retried with the next batch", extra={"error": str(exc)})

    def _tick(self) -> None:
        try:
            self._store.tick()
        except valkey.ValkeyError as exc:
            log.debug("throughput tick failed", extra={"error": str(exc)})

    def _update_lag(self, polled: dict[Any, list[Any]]) -> None:
        lag = 0
        for partition, batch in polled.items():
            end = self._consumer.highwater(partition)
            if end is not None and batch:
                lag += max(end - (batch[-1].offset + 1), 0)
        self._metrics.lag.set(lag)


class _Backoff:
    """0.2 s, doubling up to 5 s."""

    def __init__(self) -> None:
        self._delay = 0.1

    def next(self) -> float:
        self._delay = min(self._delay * 2, 5.0)
        return self._delay

    def reset(self) -> None:
        self._delay = 0.1
