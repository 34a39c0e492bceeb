"""The api's settings (docs/configuration.md is generated from these declarations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from blackfriday import settings as s
from blackfriday.sale import MAX_BATCH


@dataclass(frozen=True, slots=True)
class ApiSettings(s.HttpServerSettings):
    SERVICE: ClassVar[str] = "api"

    listen_port: int = s.port("LISTEN_PORT", 8080, "POST /purchase, GET /healthz, /readyz, /metrics, /openapi.json")
    bridge_url: str = s.url("BRIDGE_URL", "http://localhost:8081", "the bridge")
    forward_timeout_seconds: float = s.number(
        "FORWARD_TIMEOUT_SECONDS", 8.0, "how long a caller waits for its sale's ack before a 503", minimum=0.1
    )
    forward_batch_max: int = s.integer(
        "FORWARD_BATCH_MAX",
        100,
        "most sales per request to the bridge (concurrent sales are coalesced)",
        minimum=1,
        maximum=MAX_BATCH,
    )
    forward_concurrency: int = s.integer(
        "FORWARD_CONCURRENCY",
        16,
        "requests to the bridge in flight at once (pooled keep-alive connections)",
        minimum=1,
        maximum=1024,
    )
    bridge_idle_seconds: float = s.number(
        "BRIDGE_IDLE_SECONDS",
        1.0,
        "a pooled connection to the bridge idle this long is closed, not reused: keep it below the bridge's "
        "DRAIN_IDLE_SECONDS, so that no sale is sent on a connection a draining bridge is closing",
        minimum=0.05,
        maximum=30,
    )
    max_in_flight: int = s.integer(
        "MAX_IN_FLIGHT",
        1024,
        "sales accepted and not yet answered, at most; more are shed at once with 503 and Retry-After",
        minimum=1,
        maximum=1_000_000,
    )
    max_body_bytes: int = s.integer("MAX_BODY_BYTES", 4096, "larger bodies get 413", minimum=256)
