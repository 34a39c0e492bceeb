"""The consumer's settings (docs/configuration.md is generated from these declarations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from blackfriday import settings as s
from blackfriday.kafkaconn import KafkaSecurity


@dataclass(frozen=True, slots=True)
class ConsumerSettings(s.FromEnv):
    SERVICE: ClassVar[str] = "consumer"

    kafka_brokers: list[str] = s.kafka_brokers()
    kafka_topic: str = s.kafka_topic()
    kafka_security_protocol: str = s.kafka_security_protocol()
    kafka_sasl_mechanism: str = s.kafka_sasl_mechanism()
    kafka_username: str = s.kafka_username()
    kafka_password: str | None = s.kafka_password()
    kafka_ca_file: str = s.kafka_ca_file()
    kafka_group: str = s.text("KAFKA_GROUP", "black-friday-group", "the consumer group", wired=True)
    dead_letter_topic: str = s.text(
        "KAFKA_DLQ_TOPIC",
        "",
        "where records that are not sales are kept for inspection; empty: <KAFKA_TOPIC>-dlq, - : nowhere",
        wired=True,
    )
    valkey_addr: str = s.valkey_addr()
    valkey_user: str = s.valkey_user()
    valkey_password: str | None = s.valkey_password()
    valkey_ca_file: str = s.valkey_ca_file()
    valkey_db: int = s.integer("VALKEY_DB", 0, "Valkey database number", minimum=0, maximum=15)
    batch_max: int = s.integer(
        "BATCH_MAX", 500, "most records per poll, i.e. per Valkey script call", minimum=1, maximum=5000
    )
    poll_timeout_ms: int = s.integer(
        "POLL_TIMEOUT_MS", 500, "how long a poll waits for records", minimum=10, maximum=10_000
    )
    session_timeout_ms: int = s.integer(
        "KAFKA_SESSION_TIMEOUT_MS",
        10_000,
        "a consumer that stops heartbeating loses its partitions after this long",
        minimum=6000,
        maximum=300_000,
    )
    partition_stall_seconds: float = s.number(
        "PARTITION_STALL_SECONDS",
        30.0,
        "a partition this consumer holds that returns no record for this long of working time, while "
        "records its log held 5 s earlier stay unread, is taken as stalled in the Kafka client: a new "
        "client joins the group",
        minimum=5,
    )
    price_history_cap: int = s.integer(
        "PRICE_HISTORY_CAP", 1000, "prices kept for each category's tracked product", minimum=1, maximum=1_000_000
    )
    throughput_cap: int = s.integer(
        "THROUGHPUT_HISTORY_SECONDS", 3600, "seconds kept in the throughput stream", minimum=60, maximum=1_000_000
    )
    metrics_host: str = s.text("METRICS_HOST", "0.0.0.0", "address of the metrics and probe server", wired=True)  # noqa: S104
    metrics_port: int = s.port("METRICS_PORT", 9465, "HTTP: /metrics, /healthz (loop alive), /readyz")
    stall_seconds: float = s.number(
        "STALL_SECONDS", 120.0, "liveness fails when the loop has not come round for this long", minimum=5
    )
    log_level: str = s.log_level()

    def __post_init__(self) -> None:
        self.kafka_security.check()

    @property
    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity.of(self)
