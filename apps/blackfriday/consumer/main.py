"""bf-consumer: Kafka consumer group -> Valkey aggregates. Metrics and probes on METRICS_PORT.

kafka-python and the valkey client are blocking: the loop runs in a worker thread, and the event loop
only waits for the stop signal (SIGTERM asks the loop to finish the batch in hand, commit, and return).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time

import valkey
from kafka.consumer import KafkaConsumer
from kafka.errors import KafkaError

from blackfriday.bootstrap import service_main
from blackfriday.consumer.dead_letters import DeadLetters
from blackfriday.consumer.loop import ClientStalled, ConsumerLoop, ConsumerMetrics
from blackfriday.consumer.settings import ConsumerSettings
from blackfriday.consumer.store import Store, StoreOptions
from blackfriday.metrics import new_registry
from blackfriday.netcheck import tcp_reachable
from blackfriday.opsserver import OpsServer
from blackfriday.readiness import Heartbeat, Readiness
from blackfriday.valkeyconn import connect

log = logging.getLogger(__name__)

#: Clients replaced within this many seconds of each other are replaced after a growing wait (5 s, 10 s, ... 60 s).
REPLACEMENT_MEMORY = 600.0


def _kafka_consumer(settings: ConsumerSettings, stop: threading.Event, heartbeat: Heartbeat) -> KafkaConsumer | None:
    """A consumer subscribed to the topic once Kafka knows it, retrying until then.

    Subscribing only once the topic's partitions are known (it may be made after the consumer starts: on
    Kubernetes, by the topic operator) makes the first join of the group assign them, instead of an empty
    first assignment that waits for a metadata refresh to rejoin. Each attempt is a turn of the loop for
    the liveness probe.
    """
    delay = 0.2
    consumer: KafkaConsumer | None = None
    while not stop.is_set():
        heartbeat.beat()
        try:
            if consumer is None:
                consumer = KafkaConsumer(
                    bootstrap_servers=settings.kafka_brokers,
                    group_id=settings.kafka_group,
                    client_id="black-friday-consumer",
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    max_poll_records=settings.batch_max,
                    session_timeout_ms=settings.session_timeout_ms,
                    heartbeat_interval_ms=max(settings.session_timeout_ms // 4, 500),
                    reconnect_backoff_max_ms=1000,  # back within a second of a broker's return
                    **settings.kafka_security.client_config(),
                )
            if consumer.partitions_for_topic(settings.kafka_topic):
                consumer.subscribe([settings.kafka_topic])
                consumer.topics()  # a refresh with the subscription in place: the first join sees the partitions
                return consumer
            log.warning("the topic does not exist yet, waiting", extra={"topic": settings.kafka_topic})
        except KafkaError as exc:
            log.warning("Kafka not reachable yet, retrying", extra={"error": str(exc), "retry_in": delay})
        stop.wait(delay)
        delay = min(delay * 2, 5.0)
    if consumer is not None:
        consumer.close(autocommit=False)
    return None


class Probes:
    """What the consumer's probes answer: the loop comes round (live); Kafka and Valkey answer (ready)."""

    def __init__(self, settings: ConsumerSettings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self.heartbeat = Heartbeat()
        self.connected = Readiness("not connected to Kafka yet")

    def live(self) -> tuple[bool, str]:
        age = self.heartbeat.age
        return age < self._settings.stall_seconds, f"last loop turn {age:.1f}s ago"

    def ready(self) -> tuple[bool, str]:
        if not self.connected.ready:
            return self.connected.state()
        try:
            self._store.ping()
        except valkey.ValkeyError as exc:
            return False, f"Valkey unreachable: {exc}"
        if not tcp_reachable(self._settings.kafka_brokers):
            return False, "Kafka unreachable"
        return True, "Kafka and Valkey reachable"


def consume(
    settings: ConsumerSettings, store: Store, metrics: ConsumerMetrics, probes: Probes, stop: threading.Event
) -> None:
    """Connect to Kafka and run the loop until ``stop``; blocking (runs in a worker thread). A Kafka client
    that stopped fetching a partition (ClientStalled) is closed, leaving the group, and a new one joins."""
    dead_letter_topic = settings.dead_letter_topic or f"{settings.kafka_topic}-dlq"
    dead_letters = (
        None
        if dead_letter_topic == "-"
        else DeadLetters(settings.kafka_brokers, dead_letter_topic, settings.kafka_security)
    )
    replaced: list[float] = []  # when clients were replaced, in the last REPLACEMENT_MEMORY seconds
    try:
        while not stop.is_set():
            consumer = _kafka_consumer(settings, stop, probes.heartbeat)
            if consumer is None:
                return
            try:
                _run(settings, consumer, store, metrics, probes, stop, dead_letters)
                return
            except ClientStalled:
                # The loop logged it and committed what it applied; closing leaves the group at once.
                probes.connected.set(False, "starting a new Kafka client")
            finally:
                consumer.close(autocommit=False)
            now = time.monotonic()
            replaced = [moment for moment in replaced if now - moment < REPLACEMENT_MEMORY] + [now]
            if len(replaced) > 1:  # again: whatever stops the clients may stop the next one too; wait longer
                stop.wait(min(60.0, 5.0 * 2 ** (len(replaced) - 2)))
    finally:
        if dead_letters is not None:
            dead_letters.close()


def _run(
    settings: ConsumerSettings,
    consumer: KafkaConsumer,
    store: Store,
    metrics: ConsumerMetrics,
    probes: Probes,
    stop: threading.Event,
    dead_letters: DeadLetters | None,
) -> None:
    loop = ConsumerLoop(
        consumer,
        store,
        metrics,
        batch_max=settings.batch_max,
        poll_timeout_ms=settings.poll_timeout_ms,
        stop=stop,
        dead_letters=dead_letters,
        heartbeat=probes.heartbeat,
        stall_seconds=settings.partition_stall_seconds,
    )
    probes.connected.set(True, "connected to Kafka")
    log.info(
        "consuming",
        extra={
            "topic": settings.kafka_topic,
            "group": settings.kafka_group,
            "dead_letters": dead_letters.topic if dead_letters is not None else "-",
        },
    )
    loop.run()


async def serve(settings: ConsumerSettings, stop: asyncio.Event) -> None:
    registry = new_registry()
    client = connect(
        settings.valkey_addr,
        settings.valkey_password,
        settings.valkey_db,
        user=settings.valkey_user,
        ca_file=settings.valkey_ca_file or None,
    )
    store = Store(
        client,
        StoreOptions(price_history_cap=settings.price_history_cap, throughput_cap=settings.throughput_cap),
    )
    probes = Probes(settings, store)
    ops = OpsServer(settings.metrics_host, settings.metrics_port, registry, probes.live, probes.ready).start()
    stopping = threading.Event()

    async def relay_stop() -> None:
        await stop.wait()
        log.info("finishing the batch in hand")
        probes.connected.drain()
        stopping.set()

    relay = asyncio.create_task(relay_stop())
    try:
        await asyncio.to_thread(consume, settings, store, ConsumerMetrics(registry), probes, stopping)
    finally:
        relay.cancel()
        client.close()  # type: ignore[no-untyped-call]
        ops.stop()


main = service_main("consumer", ConsumerSettings, serve)

if __name__ == "__main__":
    sys.exit(main(None))
