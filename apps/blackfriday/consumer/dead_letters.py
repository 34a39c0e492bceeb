"""Records that are not sales, kept for inspection on a dead-letter topic (KAFKA_DLQ_TOPIC).

Each is copied as it came (key and value bytes) with headers saying why and where from; the consumer
commits the batch it came in only once Kafka has acknowledged the copy, so a poison record is never lost
and never blocks its partition.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka.producer import KafkaProducer

from blackfriday.kafkaconn import KafkaSecurity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Poison:
    """A record the consumer could not read as a sale, and why."""

    record: Any
    error: str


class DeadLetters:
    def __init__(
        self, brokers: Sequence[str], topic: str, security: KafkaSecurity | None = None, timeout_seconds: float = 10.0
    ) -> None:
        self.topic = topic
        self._brokers = list(brokers)
        self._security = security or KafkaSecurity()
        self._timeout = timeout_seconds
        self._producer: KafkaProducer | None = None

    def keep(self, poison: Sequence[Poison]) -> None:
        """Copy the records to the topic and wait for Kafka's ack; raises KafkaError when it cannot."""
        if self._producer is None:  # most runs never see a poison record: connect on the first one
            self._producer = KafkaProducer(
                bootstrap_servers=self._brokers,
                client_id="black-friday-consumer-dlq",
                acks="all",
                max_block_ms=int(self._timeout * 1000),
                reconnect_backoff_max_ms=1000,
                **self._security.client_config(),
            )
        futures = [
            self._producer.send(
                self.topic,
                key=item.record.key,
                value=item.record.value,
                headers=[
                    ("bf-error", item.error.encode("utf-8", "replace")),
                    ("bf-source", f"{item.record.topic}/{item.record.partition}/{item.record.offset}".encode()),
                ],
            )
            for item in poison
        ]
        for future in futures:
            future.get(timeout=self._timeout)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self._timeout)
            self._producer = None
