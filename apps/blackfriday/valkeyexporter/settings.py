"""The exporter's settings (docs/configuration.md is generated from these declarations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from blackfriday import settings as s


@dataclass(frozen=True, slots=True)
class ExporterSettings(s.FromEnv):
    SERVICE: ClassVar[str] = "valkey-exporter"

    valkey_addrs: list[str] = s.hostports(
        "VALKEY_ADDRS", "localhost:6379", "every Valkey server to report on, host:port,... (each pod, not Sentinel)"
    )
    valkey_user: str = s.valkey_user()
    valkey_password: str | None = s.valkey_password()
    valkey_ca_file: str = s.valkey_ca_file()
    metrics_host: str = s.text("METRICS_HOST", "0.0.0.0", "address of the metrics server", wired=True)  # noqa: S104
    metrics_port: int = s.port("METRICS_PORT", 9121, "HTTP: /metrics, /healthz, /readyz")
    timeout_seconds: float = s.number(
        "SCRAPE_TIMEOUT_SECONDS", 2.0, "how long a scrape waits for each server's INFO", minimum=0.1, maximum=30
    )
    log_level: str = s.log_level()
