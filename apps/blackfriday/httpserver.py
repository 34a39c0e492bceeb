"""Serving the HTTP services (api, bridge) with Hypercorn, bounded against slow and numerous clients.

Following Hypercorn's embedding: the service's stop event (SIGTERM) turns readiness 503 at once, the
listeners close, in-flight requests drain within GRACEFUL_TIMEOUT_SECONDS, then the lifespan closes the
clients.

Bounds (the settings of docs/configuration.md):
- KEEP_ALIVE_TIMEOUT_SECONDS: Hypercorn's idle timer runs from the end of a request (or the connection's
  start) until the next request's headers are complete, so it bounds both an idle keep-alive connection
  and a client that trickles its headers.
- BODY_TIMEOUT_SECONDS: the body is read by the app (web.read_json_body) under this deadline: 408.
- MAX_CONNECTIONS: Hypercorn has no limit of its own; the connection handler below answers one
  connection over the limit with a 503 (Retry-After) without reading it, and closes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Final, Protocol

import hypercorn.asyncio.run as hypercorn_run
from hypercorn.asyncio import serve
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.config import Config
from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.applications import Starlette

from blackfriday.web import Health

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 1
_BUSY_BODY: Final = json.dumps(
    {"error": "unavailable", "reason": "too many connections", "stored": "no", "retry_after_seconds": 1}
).encode()
#: The whole answer to a connection over the limit, written before reading anything from it.
BUSY_RESPONSE: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    + f"retry-after: {RETRY_AFTER_SECONDS}\r\nconnection: close\r\ncontent-length: {len(_BUSY_BODY)}\r\n\r\n".encode()
    + _BUSY_BODY
)


class ServerSettings(Protocol):
    @property
    def listen_host(self) -> str: ...
    @property
    def listen_port(self) -> int: ...
    @property
    def graceful_timeout_seconds(self) -> float: ...
    @property
    def keep_alive_timeout_seconds(self) -> float: ...
    @property
    def max_connections(self) -> int: ...


class ConnectionLimit:
    """How many client connections are open, and the limit; counted in the event loop's thread only."""

    def __init__(self, limit: int, registry: CollectorRegistry) -> None:
        self.limit = limit
        self.open = 0
        self._gauge = Gauge("bf_http_connections", "Open client connections", registry=registry)
        self._refused = Counter(
            "bf_http_connections_refused", "Connections answered 503 for being over MAX_CONNECTIONS", registry=registry
        )

    def enter(self) -> bool:
        if self.open >= self.limit:
            self._refused.inc()
            return False
        self.open += 1
        self._gauge.set(self.open)
        return True

    def leave(self) -> None:
        self.open -= 1
        self._gauge.set(self.open)


def _limited(limit: ConnectionLimit) -> type[TCPServer]:
    class LimitedTCPServer(TCPServer):
        async def run(self) -> None:
            if not limit.enter():
                try:
                    self.writer.write(BUSY_RESPONSE)
                    await self.writer.drain()
                    self.writer.close()
                    await self.writer.wait_closed()
                except (ConnectionError, OSError, RuntimeError):
                    pass  # the client went away first: nothing to answer
                return
            try:
                await super().run()
            finally:
                limit.leave()

    return LimitedTCPServer


async def serve_http(
    app: Starlette, settings: ServerSettings, stop: asyncio.Event, registry: CollectorRegistry
) -> None:
    """Serve until ``stop`` is set, then drain: not ready, stop accepting, finish in-flight, close."""
    health: Health = app.state.health
    host, port = settings.listen_host, settings.listen_port

    async def shutdown_trigger() -> None:
        await stop.wait()
        log.info("draining in-flight requests", extra={"grace_seconds": settings.graceful_timeout_seconds})
        health.readiness.drain()

    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.graceful_timeout = settings.graceful_timeout_seconds
    config.keep_alive_timeout = settings.keep_alive_timeout_seconds
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    # Hypercorn builds each connection's handler from this module global: one process serves one app.
    hypercorn_run.TCPServer = _limited(ConnectionLimit(settings.max_connections, registry))  # type: ignore[attr-defined]
    log.info("listening", extra={"host": host, "port": port, "max_connections": settings.max_connections})
    framework: Any = app  # hypercorn's ASGI types are narrower than Starlette's
    await serve(framework, config, shutdown_trigger=shutdown_trigger, mode="asgi")
