"""What the two HTTP services (api, bridge) share: JSON errors, bounded bodies, metrics, health.

Every answer is JSON, the errors of the framework itself included (404, 405). blackfriday.httpserver
serves these apps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Lifespan, Message, Receive, Scope, Send

from blackfriday.metrics import latency
from blackfriday.readiness import Readiness

log = logging.getLogger(__name__)

T = TypeVar("T")


class BadRequest(Exception):
    """A request the client must fix; becomes a JSON error response naming the bad fields."""

    def __init__(self, status: int, error: str, fields: dict[str, str] | None = None, *, close: bool = False) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.fields = fields or {}
        #: Close the connection after the answer (the request was not read to its end).
        self.close = close

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.error}
        if self.fields:
            body["fields"] = self.fields
        return JSONResponse(body, status_code=self.status, headers={"connection": "close"} if self.close else None)


def error_response(status: int, error: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=status)


def context(request: Request, kind: type[T]) -> T:
    """The typed state the app's lifespan handed to its handlers (``{"ctx": ...}``)."""
    ctx = request.state.ctx
    assert isinstance(ctx, kind), f"the lifespan's ctx is {type(ctx).__name__}, not {kind.__name__}"
    return ctx


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 no such route, 405 wrong method) as JSON, like every other answer."""
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, "not found" if exc.status_code == 404 else "bad request", exc.detail)


async def read_json_body(request: Request, max_bytes: int, timeout: float) -> bytes:
    """The body of a JSON request: a wrong content type is 415, more than ``max_bytes`` 413, a body that has
    not arrived within ``timeout`` seconds 408 (and the connection is closed: a slow client holds nothing)."""
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
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise BadRequest(413, "body too large", {"body": f"must be at most {max_bytes} bytes"})
                chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequest(400, "client disconnected", {"body": "the request body was not received"}) from None
    except TimeoutError:
        raise BadRequest(408, "request timeout", {"body": f"not received within {timeout:g}s"}, close=True) from None
    return b"".join(chunks)


class HttpMetrics:
    """Pure ASGI middleware: request count and latency by route template and status code."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, routes: list[str]) -> None:
        self._app = app
        self._routes = set(routes)
        self._requests = Counter(
            "bf_http_requests", "HTTP requests by route and status code", ["route", "code"], registry=registry
        )
        self._latency = latency(registry, "bf_http_request_seconds", "HTTP request latency by route", ["route"])

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
    """Liveness, readiness (not while draining, and only when the next hop answers) and metrics endpoints."""

    def __init__(self, registry: CollectorRegistry, downstream: Callable[[], Awaitable[tuple[bool, str]]]) -> None:
        self._registry = registry
        self._downstream = downstream
        self.readiness = Readiness()

    @property
    def draining(self) -> bool:
        return self.readiness.draining

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        if self.draining:
            return JSONResponse({"status": "unavailable", "reason": "shutting down"}, status_code=503)
        ok, reason = await self._downstream()
        self.readiness.set(ok, reason)
        return JSONResponse({"status": "ok" if ok else "unavailable", "reason": reason}, status_code=200 if ok else 503)

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self._registry), media_type=CONTENT_TYPE_LATEST)

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]


def json_app(
    routes: Sequence[Route], lifespan: Lifespan[Starlette], registry: CollectorRegistry, health: Health
) -> Starlette:
    """A Starlette app of ``routes`` plus the health routes, JSON errors and request metrics."""
    all_routes = [*routes, *health.routes()]
    app = Starlette(routes=all_routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.health = health
    app.add_middleware(HttpMetrics, registry=registry, routes=[route.path for route in all_routes])
    return app
