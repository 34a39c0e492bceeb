"""The api's Starlette application: POST /purchase, GET /healthz, /readyz, /metrics, /openapi.json."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from blackfriday.api.bridge_client import Bridge, BridgeClient, BridgeError
from blackfriday.api.forwarder import DownstreamError, Forwarder, ForwarderMetrics, Forwarding
from blackfriday.api.openapi import OPENAPI
from blackfriday.api.settings import ApiSettings
from blackfriday.httpconn import RETRY_AFTER_SECONDS
from blackfriday.httpserver import serve_http
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.limits import Limit
from blackfriday.metrics import new_registry
from blackfriday.sale import InvalidSale, Sale, loads_strict, validate_purchase
from blackfriday.web import BadRequest, Health, json_app, read_body, send_json

#: What a client reads in a 503: the reason, and whether the sale may still be stored.
PUBLIC_REASONS: Final = {
    "shutting_down": "the api is shutting down",
    "overloaded": "too many sales in flight",
    "timeout": "the sale was not acknowledged in time",
}
UNAVAILABLE_REASON: Final = "the pipeline cannot store sales right now"


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: ApiSettings
    forwarder: Forwarder
    health: Health
    #: Sales accepted and not yet answered (MAX_IN_FLIGHT).
    in_flight: Limit


async def unavailable(send: Send, sale: Sale, error: DownstreamError) -> None:
    """503 for a sale that could not be stored: what the client can act on, nothing internal."""
    body = {
        "error": "unavailable",
        "reason": PUBLIC_REASONS.get(error.cause, UNAVAILABLE_REASON),
        "id": sale.id,
        # "unknown": it went downstream and may still land (it is then counted once); "no": it did not.
        "stored": "unknown" if error.maybe_stored else "no",
        "retry_after_seconds": RETRY_AFTER_SECONDS,
    }
    await send_json(send, 503, body, [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())])


async def purchase(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /purchase, as plain ASGI: the hot path of the whole product."""
    ctx: ApiContext = scope["state"]["ctx"]
    try:
        body = await read_body(scope, receive, ctx.settings.max_body_bytes, ctx.settings.body_timeout_seconds)
        try:
            document = loads_strict(body)
        except ValueError as exc:
            raise BadRequest(400, "malformed JSON", {"body": f"not valid JSON: {exc}"}) from None
        fields = validate_purchase(document)
    except BadRequest as exc:
        await exc.send(send)
        return
    except InvalidSale as exc:
        await send_json(send, 422, {"error": "invalid sale", "fields": exc.errors})
        return
    sale = Sale.accept(fields, new_sale_id(), now_ms())
    # While draining (after SIGTERM) a sale that still arrives on an open connection is served as usual: its
    # connection stays open until the answer (blackfriday.httpconn), which tells the client to reconnect.
    if not ctx.in_flight.enter():
        await unavailable(send, sale, DownstreamError("overloaded", "MAX_IN_FLIGHT reached", maybe_stored=False))
        return
    try:
        stored = await ctx.forwarder.forward(sale)
    except DownstreamError as exc:
        await unavailable(send, sale, exc)
        return
    finally:
        ctx.in_flight.leave()
    answer = {
        "id": sale.id,
        "status": "stored",
        "accepted_at_ms": sale.accepted_at_ms,
        "partition": stored.partition,
        "offset": stored.offset,
    }
    await send_json(send, 201, answer)


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


async def _wrong_method(request: Request) -> Response:
    """/purchase takes only POST (served on the fast path): other methods are 405, like any route's."""
    raise HTTPException(405, headers={"allow": "POST"})


def create_app(settings: ApiSettings, registry: CollectorRegistry, bridge: Bridge | None = None) -> Starlette:
    """The api; ``bridge`` replaces the client of the bridge (tests)."""
    client: Bridge = bridge or BridgeClient(
        settings.bridge_url,
        pool_size=settings.forward_concurrency + 2,  # the forwarder's workers and the readiness probe
        connect_timeout=min(2.0, settings.forward_timeout_seconds),
        idle_seconds=settings.bridge_idle_seconds,
    )
    forwarding = Forwarding(settings.forward_batch_max, settings.forward_concurrency, settings.forward_timeout_seconds)
    forwarder = Forwarder(client, ForwarderMetrics(registry), forwarding)

    async def pipeline_ready() -> tuple[bool, str]:
        """Ready when the bridge is: it is when a writer can produce to Kafka (the chain of /readyz)."""
        try:
            answer = await client.get("/readyz", timeout=1.5)
        except BridgeError as exc:
            return False, str(exc)
        if answer.status != 200:
            return False, f"bridge not ready ({answer.status})"
        return True, "the pipeline can store sales"

    health = Health(registry, pipeline_ready)
    in_flight = Limit(
        settings.max_in_flight,
        registry,
        "bf_api_sales_in_flight",
        "Sales accepted and not answered yet",
        "Sales answered 503 at once for being over MAX_IN_FLIGHT",
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, ApiContext]]:
        forwarder.start()
        try:
            yield {"ctx": ApiContext(settings, forwarder, health, in_flight)}
        finally:
            await forwarder.close()
            await client.aclose()

    routes = [
        Route("/purchase", _wrong_method, methods=["GET", "PUT", "DELETE", "PATCH"]),
        Route("/openapi.json", openapi),
    ]
    return json_app(routes, lifespan, registry, health, fast={("POST", "/purchase"): purchase})


async def serve(settings: ApiSettings, stop: asyncio.Event) -> None:
    registry = new_registry()
    await serve_http(create_app(settings, registry), settings, stop, registry)
