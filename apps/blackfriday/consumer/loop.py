"""The consumer loop: poll a batch, apply it to Valkey in one script call, then commit its offsets.

Each partition's applied offset is kept in Valkey with the aggregates, updated by the same script call
(consumer/apply.lua): records at or below it are skipped, so a batch Kafka delivers again (a crash between
the script and the commit, a rebalance, a rewind) counts once. Valkey, not Kafka's committed offsets, says
what was applied: when the store lacks records the consumer already read (a Valkey primary lost before its
replica had the last batches), the script applies nothing and names the gap, and the loop reads those
partitions again from Kafka. A partition whose log now ends at or below its applied offset was made again
(the topic deleted and created): its applied offset is forgotten and its records count.

A record that is not a valid sale is logged, counted and copied to the dead-letter topic before the commit
(it cannot block its partition, and is kept for inspection). While Valkey or the dead-letter topic fails
(Valkey full at its maxmemory included), the batch is retried with backoff and stays uncommitted: nothing
is lost. While Kafka is away (a poll that fails with a retriable error), the loop backs off and polls again:
the process stays up and rejoins its group when the broker is back; only a non-retriable error (no
authorisation, say) stops it. SIGTERM only asks the loop to stop: the batch in hand is finished and
committed first. A partition the Kafka client stopped fetching (consumer/stalls.py) ends the loop with
ClientStalled, its offsets committed: the caller starts a new client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import valkey
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import MemberState
from prometheus_client import CollectorRegistry, Counter, Gauge

from blackfriday.consumer.dead_letters import DeadLetters, Poison
from blackfriday.consumer.stalls import StallWatch
from blackfriday.consumer.store import Applied, PartitionBatch, Record, Store, partition_name
from blackfriday.metrics import batch_sizes, latency
from blackfriday.readiness import Heartbeat
from blackfriday.sale import sale_from_json

#: How often, at most, a partition's log end is checked when records at or below its applied offset arrive.
LOG_END_CHECK_SECONDS = 10.0
#: How often the assigned partitions are checked for one the client stopped fetching.
STALL_CHECK_SECONDS = 5.0
#: How long the check waits for Kafka's answers (log ends, committed offsets), in all, before leaving it for later.
CHECK_TIMEOUT_SECONDS = 5.0

log = logging.getLogger(__name__)

T = TypeVar("T")


class ClientStalled(RuntimeError):
    """The Kafka client stopped fetching partitions that have records (consumer/stalls.py): start a new one."""

    def __init__(self, partitions: list[str]) -> None:
        super().__init__(f"the Kafka client stopped fetching {', '.join(partitions)}")
        self.partitions = partitions


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
        self.store_full = Gauge(
            "bf_consumer_store_full",
            "1 while Valkey refuses writes for being at its maxmemory (the batch waits; nothing is lost)",
            registry=registry,
        )
        self.rereads = Counter(
            "bf_consumer_rereads",
            "Partitions read again from Kafka because Valkey lacked records already read (a failover)",
            registry=registry,
        )
        self.expired = Counter(
            "bf_consumer_records_expired",
            "Records Valkey never had that Kafka no longer holds (retention removed them): lost to the figures",
            registry=registry,
        )
        self.logs_recreated = Counter(
            "bf_consumer_logs_recreated",
            "Partitions whose log ended below their applied offset (the topic made again): offset forgotten",
            registry=registry,
        )
        self.commit_errors = Counter(
            "bf_consumer_commit_errors",
            "Offset commits that failed (the batch will be redelivered)",
            registry=registry,
        )
        self.client_stalls = Counter(
            "bf_consumer_client_stalls",
            "Times the Kafka client stopped fetching a partition that had records and was replaced",
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
        stall_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
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
        #: Partitions read again from their applied offset + 1 after a gap: the offset read from.
        self._reread: dict[Any, int] = {}
        #: When each partition's log end was last checked.
        self._log_end_checked: dict[Any, float] = {}
        self._clock = clock
        self._stalls = StallWatch(stall_seconds)
        self._stall_checked = clock()
        #: Each partition's next offset to read, as far as this loop knows (the last record returned + 1, or
        #: where it sought).
        self._next: dict[Any, int] = {}
        #: Where the logs of the quiet partitions ended at the last check: still unread at the next one, stalled.
        self._ends_seen: dict[Any, int] = {}

    def run(self) -> None:
        backoff = _Backoff()
        failing_since: float | None = None  # when polls began to fail: Kafka away, no partition judged
        while not self._stop.is_set():
            self.heartbeat.beat()
            turn = self._clock()
            try:
                polled = self._consumer.poll(timeout_ms=self._poll_timeout_ms, max_records=self._batch_max)
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                self._metrics.kafka_errors.inc()
                failing_since = self._clock() if failing_since is None else failing_since
                delay = backoff.next()
                log.warning("cannot poll Kafka, retrying", extra={"error": str(exc)[:300], "retry_in": delay})
                self._stop.wait(delay)
                continue
            backoff.reset()
            if failing_since is not None:
                self._stalls.waited(self._clock() - failing_since)
                failing_since = None
            polled = {tp: batch for tp, batch in polled.items() if batch}
            for tp, records in polled.items():
                self._next[tp] = records[-1].offset + 1
            self._stalls.fetched(polled, self._clock())
            if not polled:
                self._tick()
                self._check_stalls()
                continue
            self._metrics.batch_size.observe(sum(len(batch) for batch in polled.values()))
            batch, poison = self._decode(polled)
            result = self._retry(partial(self._apply, batch), "apply the batch to Valkey")
            if result is None:
                return  # asked to stop while it was failing: leave the batch uncommitted
            if result.gaps:
                self._read_again(polled, result.gaps)
                continue
            for tp in polled:
                self._reread.pop(tp, None)
            if poison and self._retry(partial(self._keep, poison), "copy records to the dead-letter topic") is None:
                return
            if result.skipped:
                self._check_log_ends(polled)
            self._commit()
            self._update_lag(polled)
            if sum(len(records) for records in polled.values()) >= self._batch_max:
                self._stalls.waited(self._clock() - turn)  # a full batch: the client had others' records first
            self._check_stalls()  # after the commit: what it commits is what Valkey has
        self._final_commit()
        log.info("consumer loop stopped")

    def _decode(self, polled: dict[Any, list[Any]]) -> tuple[list[PartitionBatch], list[Poison]]:
        batch: list[PartitionBatch] = []
        poison: list[Poison] = []
        for tp, records in polled.items():
            part = PartitionBatch(partition_name(tp.topic, tp.partition), records[0].offset, records[-1].offset)
            reread_from = self._reread.get(tp)
            if reread_from is not None and part.first > reread_from:
                # Read again from the record after Valkey's applied offset, Kafka gave later ones: it no
                # longer has those in between. They can never be counted; go on from here.
                part.gap_accepted = True
                self._metrics.expired.inc(part.first - reread_from)
                log.error(
                    "records Valkey never had are gone from Kafka (retention): they are missing from the figures",
                    extra={"partition": part.name, "from_offset": reread_from, "to_offset": part.first - 1},
                )
            for record in records:
                try:
                    if not isinstance(record.value, bytes):
                        raise ValueError("no value (a tombstone)")
                    part.sales.append(Record(record.offset, sale_from_json(record.value)))
                except ValueError as exc:  # UnicodeDecodeError and InvalidSale included
                    self._metrics.records.labels("invalid").inc()
                    log.error(
                        "a record that is not a valid sale: keeping it on the dead-letter topic",
                        extra={"partition": record.partition, "offset": record.offset, "error": str(exc)[:300]},
                    )
                    poison.append(Poison(record, str(exc)[:1000]))
            batch.append(part)
        return batch, poison

    def _read_again(self, polled: dict[Any, list[Any]], gaps: Mapping[str, int]) -> None:
        """Valkey lacks records before this batch: read each gap's partition again from the record after its
        applied offset, and the batch's other partitions from their first record (nothing was applied)."""
        for tp, records in polled.items():
            applied = gaps.get(partition_name(tp.topic, tp.partition))
            if applied is None:
                self._seek(tp, records[0].offset)
                continue
            self._metrics.rereads.inc()
            log.warning(
                "Valkey lacks records this consumer read (a primary lost before its replica had them?): "
                "reading them again from Kafka",
                extra={"partition": f"{tp.topic}/{tp.partition}", "applied": applied, "batch_from": records[0].offset},
            )
            self._reread[tp] = applied + 1
            self._seek(tp, applied + 1)

    def _check_log_ends(self, polled: dict[Any, list[Any]]) -> None:
        """Records at or below their partition's applied offset came: Kafka delivered them again, or the log
        was made again behind the store. Asks Kafka where each log ends (each partition at most every
        LOG_END_CHECK_SECONDS); a log ending at or below the applied offset is new: its offset is forgotten,
        and the partition read again from this batch's first record."""
        now = time.monotonic()
        due = [tp for tp in polled if now - self._log_end_checked.get(tp, 0.0) >= LOG_END_CHECK_SECONDS]
        if not due:
            return
        for tp in due:
            self._log_end_checked[tp] = now
        try:
            ends = self._consumer.end_offsets(due)
            forgotten = self._store.forget_beyond({partition_name(tp.topic, tp.partition): ends[tp] for tp in due})
        except (KafkaError, valkey.ValkeyError) as exc:
            log.warning("cannot check where the logs end", extra={"error": str(exc)[:300]})
            return
        for tp in due:
            applied = forgotten.get(partition_name(tp.topic, tp.partition))
            if applied is not None:
                self._metrics.logs_recreated.inc()
                log.error(
                    "the partition's log ends below its applied offset (the topic was made again): counting "
                    "its records from the start",
                    extra={"partition": f"{tp.topic}/{tp.partition}", "applied": applied, "log_end": ends[tp]},
                )
                self._seek(tp, polled[tp][0].offset)

    def _seek(self, tp: Any, offset: int) -> None:
        self._consumer.seek(tp, offset)
        self._next[tp] = offset

    def _check_stalls(self) -> None:
        """Every STALL_CHECK_SECONDS, at the end of a turn (what was polled is applied and committed): a
        partition quiet for the watch's time whose log, at the previous check, already held records it has
        still not read, was stopped by the client: commit and raise ClientStalled. Nothing is judged while the
        group rebalances (no member fetches then) or while Kafka cannot answer."""
        now = self._clock()
        if now - self._stall_checked < STALL_CHECK_SECONDS:
            return
        self._stall_checked = now
        assigned = self._consumer.assignment()
        self._stalls.assigned(assigned, now)
        self._next = {tp: offset for tp, offset in self._next.items() if tp in assigned}
        if self._consumer.group_metadata().state != MemberState.STABLE:
            self._stalls.restart(now)
            self._ends_seen.clear()
            return
        quiet = self._stalls.quiet(now)
        self._ends_seen = {tp: end for tp, end in self._ends_seen.items() if tp in quiet}
        if not quiet:
            return
        try:
            ends, read = self._read_and_ends(quiet)
        except KafkaError as exc:
            log.warning("cannot check the quiet partitions", extra={"error": str(exc)[:300]})
            self._stalls.restart(now)
            self._ends_seen.clear()
            return
        stalled = [tp for tp in quiet if tp in self._ends_seen and read[tp] < self._ends_seen[tp]]
        for tp in quiet:
            if read[tp] >= ends[tp]:  # nothing to read: quiet, not stalled
                self._stalls.fetched([tp], now)
                self._ends_seen.pop(tp, None)
            elif tp not in self._ends_seen:
                self._ends_seen[tp] = ends[tp]  # judged at the next check
        if not stalled:
            return
        names = [partition_name(tp.topic, tp.partition) for tp in stalled]
        self._metrics.client_stalls.inc()
        log.error(
            "the Kafka client stopped fetching partitions that have records: starting a new client",
            extra={"partitions": ",".join(names), "quiet_seconds": self._stalls.stall_seconds},
        )
        self._final_commit()
        raise ClientStalled(names)

    def _read_and_ends(self, partitions: list[Any]) -> tuple[dict[Any, int], dict[Any, int]]:
        """Where each partition's log ends, and how far this consumer has read it: its next offset as this
        loop knows it, the group's committed offset, or, with neither, the log's start."""
        deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS

        def left() -> int:
            return max(1, int((deadline - time.monotonic()) * 1000))

        ends = self._consumer.end_offsets(partitions, timeout_ms=left())
        read: dict[Any, int] = {}
        for tp in partitions:
            committed = self._consumer.committed(tp, timeout_ms=left())
            if committed is not None or tp in self._next:
                read[tp] = max(committed or 0, self._next.get(tp, 0))
        unknown = [tp for tp in partitions if tp not in read]
        if unknown:
            read.update(self._consumer.beginning_offsets(unknown, timeout_ms=left()))
        return ends, read

    def _retry(self, action: Callable[[], T], what: str) -> T | None:
        """Run ``action`` until it succeeds (its result), backing off up to 5 s; None when asked to stop
        first. Valkey at its maxmemory refuses the script (OOM): the batch waits, counted and logged."""
        backoff = _Backoff()
        started = self._clock()
        failed = False
        while True:
            try:
                result = action()
            except (valkey.ValkeyError, KafkaError) as exc:
                failed = True
                full = isinstance(exc, valkey.exceptions.OutOfMemoryError)
                self._metrics.store_full.set(1 if full else 0)
                delay = backoff.next()
                if full:
                    log.error(
                        "Valkey is full (its maxmemory): the batch waits, nothing is lost; free memory or raise "
                        "valkey.maxmemory",
                        extra={"retry_in": delay},
                    )
                else:
                    log.warning(f"cannot {what}, retrying", extra={"error": str(exc)[:300], "retry_in": delay})
                if self._stop.wait(delay):
                    return None
                self.heartbeat.beat()
            else:
                self._metrics.store_full.set(0)
                if failed:  # the loop could not poll meanwhile: no partition was quiet by the client's fault
                    self._stalls.waited(self._clock() - started)
                return result

    def _keep(self, poison: list[Poison]) -> bool:
        if self._dead_letters is None:
            return True  # no dead-letter topic configured: the records are only logged and counted
        try:
            self._dead_letters.keep(poison)
        except KafkaError:
            self._metrics.dead_letter_errors.inc()
            raise
        self._metrics.dead_letters.inc(len(poison))
        return True

    def _apply(self, batch: list[PartitionBatch]) -> Applied:
        started = time.perf_counter()
        try:
            result = self._store.apply(batch)
        except valkey.ValkeyError:
            self._metrics.valkey_errors.inc()
            raise
        self._metrics.apply_seconds.observe(time.perf_counter() - started)
        self._metrics.records.labels("applied").inc(result.applied)
        self._metrics.records.labels("duplicate").inc(result.skipped)
        if result.skipped:
            log.info("skipped records applied before", extra={"skipped": result.skipped})
        return result

    def _commit(self) -> None:
        """Commit the batch's offsets without waiting for the broker's answer: the next poll overlaps it. A
        commit lost with a crash only makes Kafka deliver the batch again, and its records are skipped (at or
        below their partition's applied offset). The loop's last commit, at its end, waits."""
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
