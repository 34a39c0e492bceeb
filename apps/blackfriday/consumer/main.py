"""bf-consumer: Kafka consumer group -> Valkey aggregates. Metrics and probes on METRICS_PORT."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

import valkey
from kafka.consumer import KafkaConsumer
from kafka.errors import KafkaError

from blackfriday import logs
from blackfriday.consumer.loop import ConsumerLoop, ConsumerMetrics
from blackfriday.consumer.settings import ConsumerSettings
from blackfriday.consumer.store import Store, StoreOptions
from blackfriday.metrics import new_registry
from blackfriday.netcheck import tcp_reachable
from blackfriday.opsserver import OpsServer
from blackfriday.report import connect
from blackfriday.settings import SettingsError

log = logging.getLogger("blackfriday.consumer")


def _kafka_consumer(settings: ConsumerSettings, stop: threading.Event) -> KafkaConsumer | None:
    delay = 0.5
    while not stop.is_set():
        try:
            return KafkaConsumer(
                settings.kafka_topic,
                bootstrap_servers=settings.kafka_brokers,
                group_id=settings.kafka_group,
                client_id="black-friday-consumer",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=settings.batch_max,
                session_timeout_ms=settings.session_timeout_ms,
                heartbeat_interval_ms=max(settings.session_timeout_ms // 4, 500),
                reconnect_backoff_max_ms=1000,  # back within a second of a broker's return
            )
        except KafkaError as exc:
            log.warning("Kafka not reachable yet, retrying", extra={"error": str(exc), "retry_in": delay})
            stop.wait(delay)
            delay = min(delay * 2, 5.0)
    return None


def run(settings: ConsumerSettings, stop: threading.Event) -> int:
    registry = new_registry()
    metrics = ConsumerMetrics(registry)
    client = connect(settings.valkey_addr, settings.valkey_password, settings.valkey_db)
    store = Store(
        client,
        StoreOptions(
            dedup_ttl_seconds=settings.dedup_ttl_seconds,
            price_history_cap=settings.price_history_cap,
            throughput_cap=settings.throughput_cap,
        ),
    )
    holder: dict[str, ConsumerLoop] = {}

    def live() -> tuple[bool, str]:
        loop = holder.get("loop")
        if loop is None:
            return True, "starting"
        age = time.monotonic() - loop.heartbeat
        return age < settings.stall_seconds, f"last loop turn {age:.1f}s ago"

    def ready() -> tuple[bool, str]:
        if "loop" not in holder:
            return False, "not connected to Kafka yet"
        try:
            store.ping()
        except valkey.ValkeyError as exc:
            return False, f"Valkey unreachable: {exc}"
        if not tcp_reachable(settings.kafka_brokers):
            return False, "Kafka unreachable"
        return True, "Kafka and Valkey reachable"

    ops = OpsServer(settings.metrics_host, settings.metrics_port, registry, live, ready).start()
    try:
        consumer = _kafka_consumer(settings, stop)
        if consumer is None:
            return 0
        try:
            loop = ConsumerLoop(
                consumer,
                store,
                metrics,
                batch_max=settings.batch_max,
                poll_timeout_ms=settings.poll_timeout_ms,
                stop=stop,
            )
            holder["loop"] = loop
            log.info(
                "consuming",
                extra={
                    "topic": settings.kafka_topic,
                    "group": settings.kafka_group,
                },
            )
            loop.run()
        finally:
            consumer.close(autocommit=False)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        ops.stop()
        log.info("consumer stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    try:
        settings = ConsumerSettings.from_env(os.environ)
    except SettingsError as exc:
        print(f"bf-consumer: {exc}", file=sys.stderr)
        return 2
    logs.configure("consumer", settings.log_level)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("shutting down: finishing the batch in hand", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return run(settings, stop)
    except OSError as exc:
        log.error("cannot start", extra={"error": str(exc)})
        return 1


if __name__ == "__main__":
    sys.exit(main())
