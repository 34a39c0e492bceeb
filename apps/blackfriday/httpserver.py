"""Serving the HTTP services (api, bridge), bounded against slow and numerous clients.

HTTP_SERVER picks the server: Hypercorn (the design's choice, the default) or Granian (a Rust HTTP
server; the api's profile shows Hypercorn's HTTP/1.1 handling, in Python, spending half of its CPU:
docs/performance.md). Either is embedded in the service's event loop: the stop event (SIGTERM) turns
readiness 503 at once, the listeners close, in-flight requests drain within GRACEFUL_TIMEOUT_SECONDS, then
the lifespan closes the clients.

Bounds (the settings of docs/configuration.md), with Hypercorn:
- KEEP_ALIVE_TIMEOUT_SECONDS: Hypercorn's idle timer runs from the end of a request (or the connection's
  start) until the next request's headers are complete, so it bounds both an idle keep-alive connection
  and a client that trickles its headers.
- BODY_TIMEOUT_SECONDS: the body is read by the app (web.read_json_body) under this deadline: 408.
- MAX_CONNECTIONS: Hypercorn has no limit of its own; the connection handler below answers one
  connection over the limit with a 503 (Retry-After) without reading it, and closes it.

With Granian: its own header read timeout is KEEP_ALIVE_TIMEOUT_SECONDS, the body timeout is the app's,
and MAX_CONNECTIONS is its backpressure: requests beyond it wait to be accepted instead of a 503.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Final

import hypercorn.asyncio.run as hypercorn_run
from hypercorn.asyncio import serve
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.config import Config
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from blackfriday.limits import Limit
from blackfriday.settings import HttpServerSettings
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


def _limited(limit: Limit) -> type[TCPServer]:
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
    app: Starlette, settings: HttpServerSettings, stop: asyncio.Event, registry: CollectorRegistry
) -> None:
    """Serve until ``stop`` is set, then drain: not ready, stop accepting, finish in-flight, close."""
    health: Health = app.state.health

    async def shutdown_trigger() -> None:
        await stop.wait()
        log.info("draining in-flight requests", extra={"grace_seconds": settings.graceful_timeout_seconds})
        health.readiness.drain()

    if settings.http_server == "granian":
        await _serve_granian(app, settings, shutdown_trigger)
    else:
        await _serve_hypercorn(app, settings, shutdown_trigger, registry)


async def _serve_hypercorn(
    app: Starlette,
    settings: HttpServerSettings,
    shutdown_trigger: Callable[[], Coroutine[Any, Any, None]],
    registry: CollectorRegistry,
) -> None:
    host, port = settings.listen_host, settings.listen_port

    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.graceful_timeout = settings.graceful_timeout_seconds
    config.keep_alive_timeout = settings.keep_alive_timeout_seconds
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    # Hypercorn builds each connection's handler from this module global: one process serves one app.
    connections = Limit(
        settings.max_connections,
        registry,
        "bf_http_connections",
        "Open client connections",
        "Connections answered 503 for being over MAX_CONNECTIONS",
    )
    hypercorn_run.TCPServer = _limited(connections)  # type: ignore[attr-defined]
    log.info("listening", extra={"host": host, "port": port, "max_connections": settings.max_connections})
    framework: Any = app  # hypercorn's ASGI types are narrower than Starlette's
    await serve(framework, config, shutdown_trigger=shutdown_trigger, mode="asgi")


async def _serve_granian(
    app: Starlette, settings: HttpServerSettings, shutdown_trigger: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server.embed import Server

    server = Server(
        app,
        address=settings.listen_host,
        port=settings.listen_port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        backpressure=settings.max_connections,
        http1_settings=HTTP1Settings(header_read_timeout=int(settings.keep_alive_timeout_seconds * 1000)),
        log_enabled=False,  # its loggers reach the service's JSON handler
    )
    server.workers_kill_timeout = max(1, int(settings.graceful_timeout_seconds))
    log.info("listening", extra={"host": settings.listen_host, "port": settings.listen_port, "server": "granian"})
    serving = asyncio.create_task(server.serve())
    stopping: asyncio.Task[None] = asyncio.create_task(shutdown_trigger())
    done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if serving in done:
        stopping.cancel()
        serving.result()  # it stopped by itself: a failure to listen raises here
        return
    server.stop()  # type: ignore[no-untyped-call]
    await serving
