"""The consumer loop against a fake Kafka (partition logs, positions, seek) and a fake store that keeps each
partition's applied offset as apply.lua does: commit only after apply, poison kept, gaps read again."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import valkey
from kafka import TopicPartition
from kafka.errors import CommitFailedError, KafkaConnectionError, KafkaTimeoutError, TopicAuthorizationFailedError
from kafka.structs import ConsumerGroupMetadata, MemberState
from prometheus_client import CollectorRegistry, generate_latest

from blackfriday.consumer.dead_letters import Poison
from blackfriday.consumer.loop import ClientStalled, ConsumerLoop, ConsumerMetrics
from blackfriday.consumer.stalls import StallWatch
from blackfriday.consumer.store import Applied, PartitionBatch
from blackfriday.sale import Category, Sale

TOPIC = "sales-topic"
P0 = TopicPartition(TOPIC, 0)


@dataclass
class Record:
    value: bytes | None
    partition: int = 0
    offset: int = 0
    topic: str = TOPIC
    key: bytes | None = None


def sale(i: int) -> bytes:
    return Sale(f"id-{i}", 1_700_000_000_000, Category.Hogar, "Sofa", 1000, 1).to_json()


class FakeClock:
    """The loop's clock, moved by the fake Kafka's polls."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeKafka:
    """Partition logs read from a position, as a consumer reads them: ``poll`` returns what follows each
    position (at most ``per_poll`` records a partition), ``seek`` moves it; a position before the log's start
    (retention removed records) moves to the start. ``failures`` are raised by the first polls. A ``stuck``
    partition is never returned, as when the client stops fetching it; ``idle_polls`` empty polls come before
    the loop is stopped, each moving ``clock`` by a second."""

    def __init__(
        self,
        logs: Mapping[TopicPartition, Sequence[bytes | None]],
        stop: threading.Event,
        log: list[str],
        *,
        start: Mapping[TopicPartition, int] | None = None,
        failures: Sequence[Exception] = (),
        per_poll: int = 1000,
        stuck: Sequence[TopicPartition] = (),
        idle_polls: int = 0,
        clock: FakeClock | None = None,
        arrivals: Mapping[float, Sequence[tuple[TopicPartition, bytes]]] | None = None,
        commits_fail: bool = False,
        state: str = MemberState.STABLE,
    ) -> None:
        self.start = dict(start or {})
        self.records = {
            tp: [Record(v, tp.partition, self.start.get(tp, 0) + i) for i, v in enumerate(values)]
            for tp, values in logs.items()
        }
        self.position = {tp: self.start.get(tp, 0) for tp in logs}
        self._stop = stop
        self._failures = list(failures)
        self._per_poll = per_poll
        self.log = log
        self.seeks: list[tuple[int, int]] = []
        self.stuck = set(stuck)
        self.idle_polls = idle_polls
        self.clock = clock
        self.committed_at: dict[TopicPartition, int] = {}
        #: Records that arrive on the poll made at that clock time.
        self.arrivals = dict(arrivals or {})
        self.commits_fail = commits_fail
        self.state = state
        self.checks = 0

    def end(self, tp: TopicPartition) -> int:
        first: int = self.start.get(tp, 0)
        return first + len(self.records[tp])

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        if self._failures:
            self.log.append("poll failed")
            raise self._failures.pop(0)
        if self.clock is not None:
            self.clock.now += 1.0
            for tp, value in self.arrivals.pop(self.clock.now, ()):
                self.records[tp].append(Record(value, tp.partition, self.end(tp)))
        polled = {}
        for tp, records in self.records.items():
            if tp in self.stuck:
                continue
            position = max(self.position[tp], self.start.get(tp, 0))
            batch = records[position - self.start.get(tp, 0) :][: self._per_poll]
            if batch:
                polled[tp] = batch
                self.position[tp] = batch[-1].offset + 1
        if not polled:
            if self.idle_polls > 0:
                self.idle_polls -= 1
                return {}
            self._stop.set()
            return {}
        self.log.append("poll")
        return polled

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp.partition, offset))
        self.position[tp] = offset

    def end_offsets(self, partitions: Sequence[TopicPartition], timeout_ms: int = 0) -> dict[TopicPartition, int]:
        self.checks += 1
        return {tp: self.end(tp) for tp in partitions}

    def beginning_offsets(self, partitions: Sequence[TopicPartition], timeout_ms: int = 0) -> dict[TopicPartition, int]:
        return {tp: self.start.get(tp, 0) for tp in partitions}

    def group_metadata(self) -> ConsumerGroupMetadata:
        return ConsumerGroupMetadata(group_id="g", state=self.state)

    def commit_async(self, callback: Any) -> None:
        self.log.append("commit")
        if self.commits_fail:
            callback({}, CommitFailedError("the group rebalanced"))
            return
        self.committed_at = dict(self.position)
        callback({}, None)

    def commit(self, timeout_ms: int) -> None:
        self.log.append("final commit")
        if self.commits_fail:
            raise CommitFailedError("the group rebalanced")
        self.committed_at = dict(self.position)

    def assignment(self) -> set[TopicPartition]:
        return set(self.records)

    def committed(self, tp: TopicPartition, timeout_ms: int = 0) -> int | None:
        return self.committed_at.get(tp)

    def highwater(self, partition: Any) -> int:
        return self.end(partition)


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


@dataclass
class FakeStore:
    """Each partition's applied offset, as apply.lua keeps it: records at or below it are skipped, a batch
    that starts after the record following it is a gap (nothing applied)."""

    log: list[str]
    failures: list[Exception] = field(default_factory=list)
    stop_on_failure: threading.Event | None = None
    offsets: dict[str, int] = field(default_factory=dict)
    applied: list[list[str]] = field(default_factory=list)

    def apply(self, batch: Sequence[PartitionBatch]) -> Applied:
        if self.failures:
            if self.stop_on_failure is not None:
                self.stop_on_failure.set()
            raise self.failures.pop(0)
        gaps = {
            p.name: self.offsets.get(p.name, -1)
            for p in batch
            if p.first > self.offsets.get(p.name, -1) + 1 and not p.gap_accepted
        }
        if gaps:
            self.log.append("gap")
            return Applied(0, 0, gaps)
        self.log.append("apply")
        ids, skipped = [], 0
        for part in batch:
            for record in part.sales:
                if record.offset > self.offsets.get(part.name, -1):
                    ids.append(record.sale.id)
                else:
                    skipped += 1
            self.offsets[part.name] = max(self.offsets.get(part.name, -1), part.last)
        self.applied.append(ids)
        return Applied(len(ids), skipped)

    def tick(self) -> None:
        self.log.append("tick")

    def forget_beyond(self, ends: Mapping[str, int]) -> dict[str, int]:
        forgotten = {name: self.offsets[name] for name, end in ends.items() if self.offsets.get(name, -1) >= end}
        for name in forgotten:
            del self.offsets[name]
        return forgotten


def run(
    logs: Mapping[TopicPartition, Sequence[bytes | None]],
    *,
    store: FakeStore | None = None,
    dead_letters: FakeDeadLetters | None = None,
    stop_on_failure: bool = False,
    stall_seconds: float = 30.0,
    **kafka: Any,
) -> tuple[list[str], FakeStore, str, FakeKafka]:
    stop = threading.Event()
    log = dead_letters.log if dead_letters else store.log if store else []
    store = store or FakeStore(log)
    if stop_on_failure:
        store.stop_on_failure = stop
    consumer = FakeKafka(logs, stop, log, **kafka)
    registry = CollectorRegistry()
    loop = ConsumerLoop(
        consumer,
        store,  # type: ignore[arg-type]
        ConsumerMetrics(registry),
        batch_max=500,
        poll_timeout_ms=10,
        stop=stop,
        dead_letters=dead_letters,  # type: ignore[arg-type]
        stall_seconds=stall_seconds,
        clock=kafka.get("clock") or FakeClock(),
    )
    loop.run()
    return log, store, generate_latest(registry).decode(), consumer


def test_offsets_are_committed_only_after_the_batch_is_applied() -> None:
    log, store, _, _ = run({P0: [sale(1), sale(2)]})
    assert log == ["poll", "apply", "commit", "tick", "final commit"]  # an idle poll closes the throughput second
    assert store.applied == [["id-1", "id-2"]]
    assert store.offsets == {"sales-topic/0": 1}


def test_a_record_that_is_not_a_sale_is_kept_as_a_dead_letter_before_the_commit() -> None:
    dead_letters = FakeDeadLetters([])
    log, store, metrics, _ = run({P0: [b"{oops", sale(3), b'{"id": 1}', None]}, dead_letters=dead_letters)
    assert store.applied == [["id-3"]]
    assert store.offsets == {"sales-topic/0": 3}  # every record of the batch is behind the partition now
    assert log == ["poll", "apply", "keep", "commit", "tick", "final commit"]
    assert [value for value, _ in dead_letters.kept] == [b"{oops", b'{"id": 1}', None]
    assert all(error for _, error in dead_letters.kept)
    assert 'bf_consumer_records_total{outcome="invalid"} 3.0' in metrics
    assert "bf_consumer_dead_letters_total 3.0" in metrics


def test_the_batch_waits_while_the_dead_letter_topic_fails() -> None:
    dead_letters = FakeDeadLetters([], failures=2)
    log, store, metrics, _ = run({P0: [b"{oops", sale(4)]}, dead_letters=dead_letters)
    assert log == ["poll", "apply", "keep", "commit", "tick", "final commit"]
    assert "bf_consumer_dead_letter_errors_total 2.0" in metrics
    assert store.applied == [["id-4"]]


def test_without_a_dead_letter_topic_poison_is_logged_counted_and_skipped() -> None:
    log, store, metrics, _ = run({P0: [b"{oops", sale(3)]})
    assert store.applied == [["id-3"]]
    assert log == ["poll", "apply", "commit", "tick", "final commit"]
    assert 'bf_consumer_records_total{outcome="invalid"} 1.0' in metrics


def test_valkey_errors_are_retried_before_committing() -> None:
    store = FakeStore([], failures=[valkey.ConnectionError("Valkey down")] * 2)
    log, _, metrics, _ = run({P0: [sale(1)]}, store=store)
    assert log == ["poll", "apply", "commit", "tick", "final commit"]
    assert "bf_consumer_valkey_errors_total 2.0" in metrics


def test_a_full_valkey_makes_the_batch_wait_and_says_so() -> None:
    """At maxmemory Valkey refuses the script (OOM): the batch waits uncommitted, the gauge says why."""
    full = valkey.exceptions.OutOfMemoryError("OOM command not allowed when used memory > 'maxmemory'.")
    store = FakeStore([], failures=[full])
    stop = threading.Event()
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry)
    seen: list[float] = []
    original = store.apply

    def watching(batch: Sequence[PartitionBatch]) -> Applied:
        seen.append(registry.get_sample_value("bf_consumer_store_full") or 0.0)
        return original(batch)

    store.apply = watching  # type: ignore[method-assign]
    loop = ConsumerLoop(
        FakeKafka({P0: [sale(1)]}, stop, store.log),
        store,  # type: ignore[arg-type]
        metrics,
        batch_max=500,
        poll_timeout_ms=10,
        stop=stop,
    )
    loop.run()
    assert seen == [0.0, 1.0]  # refused once: full while it waited; applied on the next attempt
    assert registry.get_sample_value("bf_consumer_store_full") == 0.0
    assert store.applied == [["id-1"]]
    assert store.log == ["poll", "apply", "commit", "tick", "final commit"]


def test_stopping_while_valkey_fails_leaves_the_batch_uncommitted() -> None:
    store = FakeStore([], failures=[valkey.ConnectionError("Valkey down")] * 5)
    log, store, _, _ = run({P0: [sale(1)]}, store=store, stop_on_failure=True)
    assert log == ["poll"]
    assert store.applied == []


def test_records_delivered_again_are_skipped() -> None:
    """Kafka delivers again what was applied (a crash before the commit, a rebalance, a rewind)."""
    store = FakeStore([], offsets={"sales-topic/0": 1})
    _log, store, metrics, kafka = run({P0: [sale(1), sale(2), sale(3)]}, store=store)
    assert store.applied == [["id-3"]]
    assert 'bf_consumer_records_total{outcome="duplicate"} 2.0' in metrics
    assert kafka.seeks == []  # the log ends after the applied offset: nothing to forget


def test_a_gap_reads_the_partition_again_from_the_applied_offset() -> None:
    """A failover to a replica that missed the last batches: the consumer's position (Kafka's committed
    offset) is past Valkey's applied offset. Nothing is applied from there; the partition is read again."""
    stop = threading.Event()
    store = FakeStore([], offsets={"sales-topic/0": 1})
    kafka = FakeKafka({P0: [sale(i) for i in range(6)]}, stop, store.log)
    kafka.position[P0] = 4  # Kafka's committed offset: past what the (failed-over) store has
    registry = CollectorRegistry()
    ConsumerLoop(kafka, store, ConsumerMetrics(registry), batch_max=500, poll_timeout_ms=10, stop=stop).run()  # type: ignore[arg-type]
    assert kafka.seeks == [(0, 2)]
    assert store.log[:4] == ["poll", "gap", "poll", "apply"]
    assert store.applied == [["id-2", "id-3", "id-4", "id-5"]]  # 2 and 3 again, each once
    assert registry.get_sample_value("bf_consumer_rereads_total") == 1.0


def test_a_gap_kafka_no_longer_holds_is_accepted_and_counted_as_expired() -> None:
    """Read again from the applied offset, Kafka gives later records: retention removed the ones between."""
    stop = threading.Event()
    store = FakeStore([], offsets={"sales-topic/0": 1})
    kafka = FakeKafka({P0: [sale(i) for i in range(5, 8)]}, stop, store.log, start={P0: 5})
    registry = CollectorRegistry()
    ConsumerLoop(kafka, store, ConsumerMetrics(registry), batch_max=500, poll_timeout_ms=10, stop=stop).run()  # type: ignore[arg-type]
    assert kafka.seeks == [(0, 2)]
    assert store.applied == [["id-5", "id-6", "id-7"]]
    assert registry.get_sample_value("bf_consumer_records_expired_total") == 3.0  # offsets 2, 3, 4


def test_a_log_made_again_behind_the_store_is_counted_from_its_start() -> None:
    """The topic deleted and created again: its offsets start at 0, below the store's applied offset."""
    store = FakeStore([], offsets={"sales-topic/0": 500})
    _log, store, metrics, kafka = run({P0: [sale(1), sale(2)]}, store=store)
    assert kafka.seeks == [(0, 0)]
    assert store.applied == [[], ["id-1", "id-2"]]
    assert store.offsets == {"sales-topic/0": 1}
    assert "bf_consumer_logs_recreated_total 1.0" in metrics


def test_the_loop_outlives_kafka_being_away_and_consumes_when_it_is_back() -> None:
    refused = KafkaConnectionError("111 ECONNREFUSED")
    log, store, metrics, _ = run({P0: [sale(1)]}, failures=[refused, refused])
    assert log == ["poll failed", "poll failed", "poll", "apply", "commit", "tick", "final commit"]
    assert store.applied == [["id-1"]]
    assert "bf_consumer_kafka_errors_total 2.0" in metrics


def test_a_kafka_error_that_retrying_cannot_fix_stops_the_loop() -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        run({P0: [sale(1)]}, failures=[TopicAuthorizationFailedError("not allowed to read sales-topic")])


P1 = TopicPartition(TOPIC, 1)


def test_a_partition_the_client_stopped_fetching_ends_the_loop_with_its_offsets_committed() -> None:
    """P1 has records the client never returns (dpkp/kafka-python#3106): once it has been quiet for the stall
    time and the records its log held at one check are still unread at the next, what was applied is
    committed and ClientStalled names P1, for the caller to start a new client."""
    log: list[str] = []
    clock = FakeClock()
    started = clock.now
    with pytest.raises(ClientStalled) as stalled:
        run(
            {P0: [sale(1)], P1: [sale(2), sale(3)]},
            store=FakeStore(log),
            stuck=[P1],
            idle_polls=60,
            clock=clock,
            stall_seconds=10,
        )
    assert stalled.value.partitions == ["sales-topic/1"]
    assert log[-1] == "final commit"
    # First seen assigned at the first check (5 s in), quiet for 10 s at the check 15 s in, where its log's
    # end is noted; still unread at the next check, 20 s in.
    assert clock.now - started == 20


def test_what_the_stall_commits_is_what_valkey_has() -> None:
    """A sale that arrives on the turn the stall is found is applied before the commit, never committed
    unapplied (a commit ahead of Valkey would leave it uncounted)."""
    clock = FakeClock()
    store = FakeStore([])
    stop = threading.Event()
    kafka = FakeKafka(
        {P0: [sale(1)], P1: [sale(2)]},
        stop,
        store.log,
        stuck=[P1],
        idle_polls=60,
        clock=clock,
        arrivals={clock.now + 20: [(P0, sale(3))]},
    )
    loop = ConsumerLoop(
        kafka,
        store,  # type: ignore[arg-type]
        ConsumerMetrics(CollectorRegistry()),
        batch_max=500,
        poll_timeout_ms=10,
        stop=stop,
        stall_seconds=10,
        clock=clock,
    )
    with pytest.raises(ClientStalled):
        loop.run()
    assert store.offsets["sales-topic/0"] == 1  # the late sale applied
    assert kafka.committed_at[P0] == store.offsets["sales-topic/0"] + 1


def test_a_quiet_partition_with_nothing_to_read_is_not_a_stall() -> None:
    log, _, metrics, kafka = run({P0: [sale(1)], P1: []}, idle_polls=60, clock=FakeClock(), stall_seconds=10)
    assert kafka.checks > 0  # asked Kafka where the quiet partitions end
    assert log[-1] == "final commit"
    assert "bf_consumer_client_stalls_total 0.0" in metrics


def test_a_read_partition_whose_commits_failed_is_not_a_stall() -> None:
    """Commits refused (a rebalance, a broker away): the records were read and applied all the same."""
    _, store, metrics, kafka = run(
        {P0: [sale(1)], P1: [sale(2)]}, idle_polls=60, clock=FakeClock(), stall_seconds=10, commits_fail=True
    )
    assert kafka.checks > 0
    assert kafka.committed_at == {}
    assert store.offsets == {"sales-topic/0": 0, "sales-topic/1": 0}
    assert "bf_consumer_client_stalls_total 0.0" in metrics


def test_no_partition_is_judged_while_the_group_rebalances() -> None:
    """While the group rebalances nobody fetches: a quiet partition with records is not stalled then."""
    log, _, metrics, kafka = run(
        {P0: [sale(1)], P1: [sale(2)]},
        stuck=[P1],
        idle_polls=60,
        clock=FakeClock(),
        stall_seconds=10,
        state=MemberState.REBALANCING,
    )
    assert kafka.checks == 0
    assert log[-1] == "final commit"
    assert "bf_consumer_client_stalls_total 0.0" in metrics


def test_a_partition_counts_as_stalled_only_for_the_time_the_loop_could_poll() -> None:
    watch = StallWatch(10)
    watch.assigned([P0, P1], now=0)
    watch.fetched([P0], now=8)
    assert watch.quiet(now=9) == []
    watch.waited(25)  # Valkey was away: the loop did not poll
    assert watch.quiet(now=30) == []
    assert watch.quiet(now=35) == [P1]  # 35 s since assigned, 25 s of them waiting
    watch.assigned([P0], now=36)  # P1 moved to another consumer
    assert watch.quiet(now=100) == [P0]
