"""The writer's settings (docs/configuration.md is generated from these declarations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from blackfriday import settings as s
from blackfriday.kafkaconn import KafkaSecurity


@dataclass(frozen=True, slots=True)
class WriterSettings(s.FromEnv):
    SERVICE: ClassVar[str] = "writer"

    listen_host: str = s.listen_host()
    listen_port: int = s.port("LISTEN_PORT", 50051, "gRPC: blackfriday.ProductSaleService, grpc.health.v1.Health")
    metrics_port: int = s.port("METRICS_PORT", 9464, "HTTP: /metrics, /healthz, /readyz")
    kafka_brokers: list[str] = s.kafka_brokers()
    kafka_topic: str = s.kafka_topic()
    kafka_security_protocol: str = s.kafka_security_protocol()
    kafka_sasl_mechanism: str = s.kafka_sasl_mechanism()
    kafka_username: str = s.kafka_username()
    kafka_password: str | None = s.kafka_password()
    kafka_ca_file: str = s.kafka_ca_file()
    delivery_timeout_ms: int = s.integer(
        "KAFKA_DELIVERY_TIMEOUT_MS",
        5000,
        "how long Kafka may take to acknowledge a sale before the call fails DEADLINE_EXCEEDED",
        minimum=100,
    )
    max_block_ms: int = s.integer(
        "KAFKA_MAX_BLOCK_MS",
        3000,
        "how long a send may wait for metadata or buffer space (UNAVAILABLE after)",
        minimum=0,
    )
    linger_ms: int = s.integer("KAFKA_LINGER_MS", 2, "producer batching delay", minimum=0)
    max_connection_age_seconds: int = s.integer(
        "MAX_CONNECTION_AGE_SECONDS",
        30,
        "a gRPC connection older than this is ended gracefully (its calls finish), so that the bridges look "
        "the writers up again and spread over the ones added since",
        minimum=1,
    )
    grace_seconds: float = s.graceful_timeout()
    log_level: str = s.log_level()

    def __post_init__(self) -> None:
        self.kafka_security.check()

    @property
    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity.of(self)
