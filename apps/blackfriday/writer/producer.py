"""The writer's Kafka producer: acks=all, idempotent, keyed by product, awaited from asyncio.

kafka-python's producer is thread-based: ``send`` may block (metadata, full buffer) and its futures
complete on the producer's I/O thread. Sends run on one worker thread and each Kafka future is bridged
to an asyncio future, so the event loop never blocks and many concurrent calls share the producer's
batching: one request to the broker carries the sales of many gRPC calls.

The producer heals itself after a broker's death (kafka_repair), and ``health`` says when it cannot
produce: not connected, stuck, or a send Kafka has not answered for twice its delivery timeout (a healthy
producer answers every send, ack or error, within that timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.producer import KafkaProducer

from blackfriday.sale import Sale, Stored
from blackfriday.writer import kafka_repair
from blackfriday.writer.settings import WriterSettings

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """Kafka could not take the sales (not connected, broker error): retry later."""


class KafkaTimeout(Exception):
    """Kafka did not acknowledge in time; the sale may or may not have been written."""


class SaleProducer:
    def __init__(self, settings: WriterSettings) -> None:
        self._settings = settings
        self._producer: KafkaProducer | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-send")
        self._connector: asyncio.Task[None] | None = None
        self._closing = False
        #: Sends Kafka has not answered yet: id -> time.monotonic() of the send (event loop thread only).
        self._pending: dict[int, float] = {}
        self._ids = itertools.count()

    def _config(self) -> dict[str, Any]:
        s = self._settings
        return {
            "bootstrap_servers": s.kafka_brokers,
            "client_id": "black-friday-writer",
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": s.linger_ms,
            "max_block_ms": s.max_block_ms,
            "delivery_timeout_ms": s.delivery_timeout_ms,
            "request_timeout_ms": max(s.delivery_timeout_ms - s.linger_ms, 100),
            "bootstrap_timeout_ms": 5000,
            # Reconnect within a second once a broker is back (the default backs off up to 30 s).
            "reconnect_backoff_max_ms": 1000,
            **s.kafka_security.client_config(),
        }

    def health(self) -> tuple[bool, str]:
        """Whether the producer can produce now, and why not."""
        producer = self._producer
        if producer is None:
            return False, "not connected to Kafka yet"
        if kafka_repair.stuck(producer):
            return False, "the Kafka producer cannot send"
        now = time.monotonic()
        oldest = max((now - sent for sent in self._pending.values()), default=0.0)
        if oldest > 2 * self._settings.delivery_timeout_ms / 1000:
            return False, f"Kafka has not answered a send for {oldest:.0f}s"
        return True, "producing to Kafka"

    async def start(self) -> None:
        """Connect in the background, retrying until Kafka answers; calls fail UNAVAILABLE until then."""
        kafka_repair.install()
        self._connector = asyncio.create_task(self._connect_forever(), name="kafka-connect")

    async def _connect_forever(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.5
        while not self._closing:
            try:
                producer = await loop.run_in_executor(self._executor, lambda: KafkaProducer(**self._config()))
            except KafkaError as exc:
                log.warning("Kafka not reachable yet, retrying", extra={"error": str(exc), "retry_in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if self._closing:
                producer.close(timeout=1)
                return
            self._producer = producer
            log.info("connected to Kafka", extra={"brokers": self._settings.kafka_brokers})
            return

    def _send_all(self, sales: Sequence[Sale]) -> list[Any]:
        producer = self._producer
        if producer is None:
            raise KafkaUnavailable(f"not connected to Kafka at {','.join(self._settings.kafka_brokers)}")
        topic = self._settings.kafka_topic
        return [producer.send(topic, key=s.producto_id.encode(), value=s.to_json()) for s in sales]

    async def publish(self, sales: Sequence[Sale], timeout: float) -> list[Stored]:
        """Produce the sales and wait for every broker ack; raises KafkaUnavailable or KafkaTimeout."""
        loop = asyncio.get_running_loop()
        try:
            kafka_futures = await loop.run_in_executor(self._executor, self._send_all, sales)
        except KafkaTimeoutError as exc:
            raise KafkaUnavailable(f"Kafka metadata unavailable: {exc}") from exc
        except KafkaError as exc:
            raise KafkaUnavailable(f"Kafka rejected the send: {exc}") from exc
        waiters = [self._bridge(loop, f) for f in kafka_futures]
        try:
            outcomes = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), timeout)
        except TimeoutError as exc:
            raise KafkaTimeout(f"Kafka did not acknowledge within {timeout:.1f}s") from exc
        acks: list[Stored] = []
        for outcome in outcomes:
            if isinstance(outcome, KafkaTimeoutError):
                raise KafkaTimeout(f"Kafka did not acknowledge: {outcome}") from outcome
            if isinstance(outcome, BaseException):
                raise KafkaUnavailable(f"Kafka write failed: {outcome}") from outcome
            acks.append(Stored(partition=outcome.partition, offset=outcome.offset))
        return acks

    async def close(self, timeout: float) -> None:
        """Stop connecting, deliver what is buffered (up to ``timeout``), close."""
        self._closing = True
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        producer, self._producer = self._producer, None
        if producer is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, _close, producer, timeout)
        self._executor.shutdown(wait=True)

    def _bridge(self, loop: asyncio.AbstractEventLoop, kafka_future: Any) -> asyncio.Future[Any]:
        """An asyncio future completed (in the loop's thread) when the Kafka future completes."""
        waiter: asyncio.Future[Any] = loop.create_future()
        send = next(self._ids)
        self._pending[send] = time.monotonic()

        def _resolve(value: Any) -> None:
            self._pending.pop(send, None)
            if not waiter.done():
                waiter.set_result(value)

        def _reject(exc: BaseException) -> None:
            self._pending.pop(send, None)
            if not waiter.done():
                waiter.set_exception(exc)

        kafka_future.add_callback(lambda value: loop.call_soon_threadsafe(_resolve, value))
        kafka_future.add_errback(lambda exc: loop.call_soon_threadsafe(_reject, exc))
        return waiter


def _close(producer: KafkaProducer, timeout: float) -> None:
    """Deliver what is buffered within ``timeout``, then close; a producer that cannot deliver (Kafka gone)
    is closed by force: its flush raises before close ever stops its I/O thread."""
    try:
        producer.close(timeout=timeout)
    except KafkaError as exc:
        log.warning("Kafka producer closed by force: buffered sales not delivered", extra={"error": str(exc)})
        sender = producer._sender
        if sender is not None:
            sender.force_close()
