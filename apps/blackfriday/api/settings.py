from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from blackfriday.settings import Env


@dataclass(frozen=True, slots=True)
class ApiSettings:
    listen_host: str
    listen_port: int
    bridge_url: str
    #: How long a caller waits for its sale's ack before a 503.
    forward_timeout_seconds: float
    #: Most sales per request to the bridge.
    forward_batch_max: int
    #: Requests to the bridge in flight at once (each may carry a batch).
    forward_concurrency: int
    max_body_bytes: int
    graceful_timeout_seconds: float
    log_level: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiSettings:
        env = Env(environ)
        return cls(
            listen_host=env.text("LISTEN_HOST", "0.0.0.0"),  # noqa: S104 - a server in a container
            listen_port=env.port("LISTEN_PORT", 8080),
            bridge_url=env.url("BRIDGE_URL", "http://localhost:8081"),
            forward_timeout_seconds=env.number("FORWARD_TIMEOUT_SECONDS", 8.0, minimum=0.1),
            forward_batch_max=env.integer("FORWARD_BATCH_MAX", 100, minimum=1, maximum=1000),
            forward_concurrency=env.integer("FORWARD_CONCURRENCY", 16, minimum=1, maximum=1024),
            max_body_bytes=env.integer("MAX_BODY_BYTES", 4096, minimum=256),
            graceful_timeout_seconds=env.number("GRACEFUL_TIMEOUT_SECONDS", 10.0, minimum=0),
            log_level=env.log_level(),
        )
