from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from blackfriday.settings import Env


@dataclass(frozen=True, slots=True)
class WriterSettings:
    listen_host: str
    listen_port: int
    metrics_port: int
    kafka_brokers: list[str]
    kafka_topic: str
    #: How long Kafka may take to acknowledge a sale before the call fails (DEADLINE_EXCEEDED).
    delivery_timeout_ms: int
    #: How long send() may block for metadata or buffer space.
    max_block_ms: int
    linger_ms: int
    grace_seconds: float
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WriterSettings:
        env = Env(environ)
        return cls(
            listen_host=env.text("LISTEN_HOST", "0.0.0.0"),  # noqa: S104 - a server in a container
            listen_port=env.port("LISTEN_PORT", 50051),
            metrics_port=env.port("METRICS_PORT", 9464),
            kafka_brokers=env.hostports("KAFKA_BROKERS", "localhost:9092"),
            kafka_topic=env.text("KAFKA_TOPIC", "sales-topic"),
            delivery_timeout_ms=env.integer("KAFKA_DELIVERY_TIMEOUT_MS", 5000, minimum=100),
            max_block_ms=env.integer("KAFKA_MAX_BLOCK_MS", 3000, minimum=0),
            linger_ms=env.integer("KAFKA_LINGER_MS", 2, minimum=0),
            grace_seconds=env.number("GRACEFUL_TIMEOUT_SECONDS", 10.0, minimum=0),
            log_level=env.log_level(),
        )
