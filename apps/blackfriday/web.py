"""What the two HTTP services (api, bridge) share: JSON errors, bounded bodies, metrics, health.

Every answer is JSON, the errors of the framework itself included (404, 405). blackfriday.httpserver
serves these apps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Lifespan, Message, Receive, Scope, Send

from blackfriday.metrics import READY_HELP, latency
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

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error}
        if self.fields:
            body["fields"] = self.fields
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.document(), status_code=self.status, headers={"connection": "close"} if self.close else None
        )

    async def send(self, send: Send) -> None:
        """The answer, on the fast path (plain ASGI)."""
        await send_json(send, self.status, self.document(), [(b"connection", b"close")] if self.close else ())


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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(scope: Scope, receive: Receive, max_bytes: int, timeout: float) -> bytes:
    """The body of a JSON request, straight from the ASGI messages: a wrong content type is 415, more than
    ``max_bytes`` 413, a body that has not arrived within ``timeout`` seconds 408 (and the connection is
    closed: a slow client holds nothing), a client gone before the end 400."""
    content_type = _header(scope, b"content-type") or ""
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise BadRequest(
            415,
            "unsupported media type",
            {"content-type": f"must be application/json, got {content_type or 'nothing'!r}"},
        )
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(413, "body too large", {"body": f"must be at most {max_bytes} bytes"})
    body = b""
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise BadRequest(400, "client disconnected", {"body": "the request body was not received"})
                chunk: bytes = message.get("body", b"")
                body += chunk
                if len(body) > max_bytes:
                    raise BadRequest(413, "body too large", {"body": f"must be at most {max_bytes} bytes"})
                if not message.get("more_body", False):
                    return body
    except TimeoutError:
        raise BadRequest(408, "request timeout", {"body": f"not received within {timeout:g}s"}, close=True) from None


async def read_json_body(request: Request, max_bytes: int, timeout: float) -> bytes:
    """read_body for a Starlette handler."""
    return await read_body(request.scope, request.receive, max_bytes, timeout)


async def send_json(send: Send, status: int, document: Any, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    """A JSON answer written straight to the ASGI connection (the hot path's JSONResponse)."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HttpMetrics:
    """Pure ASGI middleware: request count and latency by route template and status code."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, routes: list[str]) -> None:
        self._app = app
        self._routes = set(routes)
        self._requests = Counter(
            "bf_http_requests", "HTTP requests by route and status code", ["route", "code"], registry=registry
        )
        self._latency = latency(registry, "bf_http_request_seconds", "HTTP request latency by route", ["route"])
        # The labelled children, looked up once each (a labels() call costs more than the increment).
        self._counted: dict[tuple[str, int], Any] = {}
        self._timed = {route: self._latency.labels(route) for route in [*self._routes, "other"]}

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
            counter = self._counted.get((route, status))
            if counter is None:
                counter = self._counted[(route, status)] = self._requests.labels(route, str(status))
            counter.inc()
            self._timed[route].observe(time.perf_counter() - started)


class Health:
    """Liveness, readiness (not while draining, and only when the next hop answers) and metrics endpoints."""

    def __init__(self, registry: CollectorRegistry, downstream: Callable[[], Awaitable[tuple[bool, str]]]) -> None:
        self._registry = registry
        self._downstream = downstream
        self.readiness = Readiness()
        self._ready = Gauge("bf_ready", READY_HELP, registry=registry)

    @property
    def draining(self) -> bool:
        return self.readiness.draining

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def check(self) -> tuple[bool, str]:
        """The readiness now (not while draining; else the next hop's), as bf_ready says it."""
        if self.draining:
            ok, reason = False, "shutting down"
        else:
            ok, reason = await self._downstream()
            self.readiness.set(ok, reason)
        self._ready.set(1 if ok else 0)
        return ok, reason

    async def readyz(self, request: Request) -> Response:
        ok, reason = await self.check()
        return JSONResponse({"status": "ok" if ok else "unavailable", "reason": reason}, status_code=200 if ok else 503)

    async def metrics(self, request: Request) -> Response:
        await self.check()  # bf_ready is as fresh as the scrape: the alerts' "no api pod ready"
        return Response(generate_latest(self._registry), media_type=CONTENT_TYPE_LATEST)

    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
        ]


#: A route served as plain ASGI, outside Starlette's routing: (method, path) -> app.
FastRoutes = Mapping[tuple[str, str], ASGIApp]


def json_app(
    routes: Sequence[Route],
    lifespan: Lifespan[Starlette],
    registry: CollectorRegistry,
    health: Health,
    fast: FastRoutes | None = None,
) -> Starlette:
    """A Starlette app of ``routes`` plus the health routes, JSON errors and request metrics.

    ``fast`` routes (the hot path: POST /purchase) skip Starlette's routing and request objects; they get
    the lifespan's state in ``scope["state"]`` and answer with send_json.
    """
    fast = dict(fast or {})
    all_routes = [*routes, *health.routes()]
    app = Starlette(routes=all_routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.health = health
    if fast:
        app.add_middleware(FastPath, routes=fast)
    paths = [route.path for route in all_routes] + [path for _, path in fast]
    app.add_middleware(HttpMetrics, registry=registry, routes=paths)
    return app


class FastPath:
    """Pure ASGI middleware: requests of the fast routes go straight to their app, the rest to Starlette."""

    def __init__(self, app: ASGIApp, routes: FastRoutes) -> None:
        self._app = app
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            fast = self._routes.get((scope["method"], scope["path"]))
            if fast is not None:
                await fast(scope, receive, send)
                return
        await self._app(scope, receive, send)
