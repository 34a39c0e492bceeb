from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from blackfriday.settings import Env, SettingsError

# host:port, or a gRPC name-resolver target such as dns:///writer-headless:50051
_TARGET = re.compile(r"^((dns|ipv4|ipv6|unix):(//[^/]*/)?)?[A-Za-z0-9_.\[\]:-]+:\d{1,5}$")


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    listen_host: str
    listen_port: int
    #: The writer: host:port or a gRPC target (dns:///name:port balances over every writer pod).
    grpc_host: str
    grpc_timeout_seconds: float
    max_body_bytes: int
    graceful_timeout_seconds: float
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BridgeSettings:
        env = Env(environ)
        grpc_host = env.text("GRPC_HOST", "localhost:50051")
        if not _TARGET.match(grpc_host):
            raise SettingsError(f"GRPC_HOST: expected host:port or dns:///host:port, got {grpc_host!r}")
        return cls(
            listen_host=env.text("LISTEN_HOST", "0.0.0.0"),  # noqa: S104 - a server in a container
            listen_port=env.port("LISTEN_PORT", 8081),
            grpc_host=grpc_host,
            grpc_timeout_seconds=env.number("GRPC_TIMEOUT_SECONDS", 6.0, minimum=0.1),
            max_body_bytes=env.integer("MAX_BODY_BYTES", 1_048_576, minimum=1024),
            graceful_timeout_seconds=env.number("GRACEFUL_TIMEOUT_SECONDS", 10.0, minimum=0),
            log_level=env.log_level(),
        )
