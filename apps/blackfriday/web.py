"""What the two HTTP services (api, bridge) share: JSON errors, bounded bodies, metrics, health, serving.

Serving follows Hypercorn's embedding: SIGTERM sets one event; readiness turns 503 at once, listeners
close, in-flight requests drain within GRACEFUL_TIMEOUT_SECONDS, then the lifespan closes the clients.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blackfriday.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)


class BadRequest(Exception):
    """A request the client must fix; becomes a JSON error response naming the bad fields."""

    def __init__(self, status: int, error: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.fields = fields or {}

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.error}
        if self.fields:
            body["fields"] = self.fields
        return JSONResponse(body, status_code=self.status)


def error_response(status: int, error: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=status)


async def read_json_body(request: Request, max_bytes: int) -> bytes:
    """The body of a JSON request, refusing a wrong content type (415) or more than ``max_bytes`` (413)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise BadRequest(
            415,
            "unsupported media type",
            {"content-type": f"must be application/json, got {content_type or 'nothing'!r}"},
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(413, "body too large", {"body": f"must be at most {max_bytes} bytes"})
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise BadRequest(413, "body too large", {"body": f"must be at most {max_bytes} bytes"})
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequest(400, "client disconnected", {"body": "the request body was not received"}) from None
    return b"".join(chunks)


class HttpMetrics:
    """Pure ASGI middleware: request count and latency by route template and status code."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, routes: list[str]) -> None:
        self._app = app
        self._routes = set(routes)
        self._requests = Counter(
            "bf_http_requests", "HTTP requests by route and status code", ["route", "code"], registry=registry
        )
        self._latency = Histogram(
            "bf_http_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in self._routes else "other"
        status = 500
        started = time.perf_counter()

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_record)
        finally:
            self._requests.labels(route, str(status)).inc()
            self._latency.labels(route).observe(time.perf_counter() - started)


class Health:
    """Liveness, readiness (with a check of the next hop) and metrics endpoints."""

    def __init__(self, registry: CollectorRegistry, downstream: Callable[[], Awaitable[tuple[bool, str]]]) -> None:
        self._registry = registry
        self._downstream = downstream
        self.draining = False

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        if self.draining:
            return JSONResponse({"status": "unavailable", "reason": "shutting down"}, status_code=503)
        ok, reason = await self._downstream()
        return JSONResponse({"status": "ok" if ok else "unavailable", "reason": reason}, status_code=200 if ok else 503)

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self._registry), media_type=CONTENT_TYPE_LATEST)

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]


async def serve_http(app: ASGIApp, host: str, port: int, graceful_timeout: float, health: Health) -> None:
    """Serve until SIGTERM/SIGINT, then drain: not ready, stop accepting, finish in-flight, close."""
    stop = asyncio.Event()

    def on_signal() -> None:
        log.info("shutting down: draining in-flight requests", extra={"grace_seconds": graceful_timeout})
        health.draining = True
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = 75  # longer than typical load balancer idle timeouts
    log.info("listening", extra={"host": host, "port": port})
    framework: Any = app  # hypercorn's ASGI types are narrower than Starlette's
    await serve(framework, config, shutdown_trigger=stop.wait, mode="asgi")
