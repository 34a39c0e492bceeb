"""The bridge's settings (docs/configuration.md is generated from these declarations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from blackfriday import settings as s


@dataclass(frozen=True, slots=True)
class BridgeSettings(s.FromEnv):
    SERVICE: ClassVar[str] = "bridge"

    listen_host: str = s.listen_host()
    listen_port: int = s.port(
        "LISTEN_PORT", 8081, "POST /forward, POST /forward/batch, GET /healthz, /readyz, /metrics"
    )
    grpc_host: str = s.target(
        "GRPC_HOST",
        "localhost:50051",
        "the writer: host:port, or dns:///name:port to balance over every address (a headless Service)",
    )
    grpc_timeout_seconds: float = s.number("GRPC_TIMEOUT_SECONDS", 6.0, "deadline of each gRPC call", minimum=0.1)
    max_body_bytes: int = s.integer("MAX_BODY_BYTES", 1_048_576, "larger bodies get 413", minimum=1024)
    body_timeout_seconds: float = s.body_timeout()
    keep_alive_timeout_seconds: float = s.keep_alive_timeout()
    max_connections: int = s.max_connections()
    http_server: str = s.http_server()
    graceful_timeout_seconds: float = s.graceful_timeout()
    log_level: str = s.log_level()
