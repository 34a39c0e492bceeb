"""Serving the HTTP services (api, bridge), bounded against slow and numerous clients.

HTTP_SERVER picks the server: Hypercorn (the design's choice, the default) or Granian (a Rust HTTP
server; the api's profile shows Hypercorn's HTTP/1.1 handling, in Python, spending half of its CPU:
docs/performance.md). Either is embedded in the service's event loop: the stop event (SIGTERM) turns
readiness 503 at once, the listeners close, in-flight requests drain within GRACEFUL_TIMEOUT_SECONDS, then
the lifespan closes the clients.

With Hypercorn, blackfriday.httpconn bounds each connection (the settings of docs/configuration.md):
MAX_CONNECTIONS (idle connections make room for new ones; a 503 only when every one is busy),
HEADER_TIMEOUT_SECONDS (a request head must arrive in time: 408), KEEP_ALIVE_TIMEOUT_SECONDS (an idle
keep-alive connection), and the drain (DRAIN_IDLE_SECONDS, ``Connection: close`` on every answer).
BODY_TIMEOUT_SECONDS: the body is read by the app (web.read_body) under this deadline: 408.

With Granian: its own header read timeout is HEADER_TIMEOUT_SECONDS, the body timeout is the app's,
MAX_CONNECTIONS is its backpressure (requests beyond it wait to be accepted instead of a 503), and its own
drain closes idle connections at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import hypercorn.asyncio.run as hypercorn_run
from hypercorn.asyncio import serve
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from blackfriday.httpconn import ConnectionBounds, Connections, DrainingConfig, connection_class
from blackfriday.settings import HttpServerSettings
from blackfriday.web import Health

log = logging.getLogger(__name__)


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
    health: Health = app.state.health
    config = DrainingConfig(draining=lambda: health.draining)
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.graceful_timeout = settings.graceful_timeout_seconds
    config.keep_alive_timeout = settings.keep_alive_timeout_seconds
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    bounds = ConnectionBounds(settings.max_connections, settings.header_timeout_seconds, settings.drain_idle_seconds)
    connections = Connections(settings.max_connections, registry)
    # Hypercorn builds each connection's handler from this module global: one process serves one app.
    hypercorn_run.TCPServer = connection_class(connections, bounds)  # type: ignore[attr-defined]
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
        http1_settings=HTTP1Settings(header_read_timeout=int(settings.header_timeout_seconds * 1000)),
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
