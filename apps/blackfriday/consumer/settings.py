from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from blackfriday.settings import Env


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    kafka_brokers: list[str]
    kafka_topic: str
    kafka_group: str
    valkey_addr: str
    valkey_password: str | None
    valkey_db: int
    #: Most records per poll, i.e. per Valkey script call.
    batch_max: int
    poll_timeout_ms: int
    #: A consumer that stops heartbeating loses its partitions after this long.
    session_timeout_ms: int
    dedup_ttl_seconds: int
    price_history_cap: int
    throughput_cap: int
    metrics_host: str
    metrics_port: int
    #: Liveness fails when the loop has not come round for this long.
    stall_seconds: float
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConsumerSettings:
        env = Env(environ)
        return cls(
            kafka_brokers=env.hostports("KAFKA_BROKERS", "localhost:9092"),
            kafka_topic=env.text("KAFKA_TOPIC", "sales-topic"),
            kafka_group=env.text("KAFKA_GROUP", "black-friday-group"),
            valkey_addr=env.hostport("VALKEY_ADDR", "localhost:6379"),
            valkey_password=env.raw("VALKEY_PASSWORD"),
            valkey_db=env.integer("VALKEY_DB", 0, minimum=0, maximum=15),
            batch_max=env.integer("BATCH_MAX", 500, minimum=1, maximum=5000),
            poll_timeout_ms=env.integer("POLL_TIMEOUT_MS", 500, minimum=10, maximum=10_000),
            session_timeout_ms=env.integer("KAFKA_SESSION_TIMEOUT_MS", 10_000, minimum=6000, maximum=300_000),
            dedup_ttl_seconds=env.integer("DEDUP_TTL_SECONDS", 86_400, minimum=60),
            price_history_cap=env.integer("PRICE_HISTORY_CAP", 1000, minimum=1, maximum=1_000_000),
            throughput_cap=env.integer("THROUGHPUT_HISTORY_SECONDS", 3600, minimum=60, maximum=1_000_000),
            metrics_host=env.text("METRICS_HOST", "0.0.0.0"),  # noqa: S104 - a server in a container
            metrics_port=env.port("METRICS_PORT", 9465),
            stall_seconds=env.number("STALL_SECONDS", 120.0, minimum=5),
            log_level=env.log_level(),
        )
