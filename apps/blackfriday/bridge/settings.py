"""The bridge's settings (docs/configuration.md is generated from these declarations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from blackfriday import settings as s


@dataclass(frozen=True, slots=True)
class BridgeSettings(s.HttpServerSettings):
    SERVICE: ClassVar[str] = "bridge"

    listen_port: int = s.port(
        "LISTEN_PORT", 8081, "POST /forward, POST /forward/batch, GET /healthz, /readyz, /metrics"
    )
    grpc_host: str = s.target(
        "GRPC_HOST",
        "localhost:50051",
        "the writer: host:port, dns:///name:port to balance over every address (a headless Service), "
        "or ipv4:host:port,host:port",
    )
    grpc_timeout_seconds: float = s.number("GRPC_TIMEOUT_SECONDS", 6.0, "deadline of each gRPC call", minimum=0.1)
    max_body_bytes: int = s.integer("MAX_BODY_BYTES", 1_048_576, "larger bodies get 413", minimum=1024)
