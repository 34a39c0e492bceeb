"""The api's Starlette application: POST /purchase, GET /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from blackfriday.api.forwarder import DownstreamError, Forwarder, ForwarderMetrics
from blackfriday.api.settings import ApiSettings
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.metrics import new_registry
from blackfriday.sale import InvalidSale, Sale, loads_strict, validate_purchase
from blackfriday.web import BadRequest, Health, context, json_app, read_json_body, serve_http


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: ApiSettings
    forwarder: Forwarder
    health: Health


async def purchase(request: Request) -> Response:
    ctx = context(request, ApiContext)
    try:
        body = await read_json_body(request, ctx.settings.max_body_bytes)
        try:
            document = loads_strict(body)
        except ValueError as exc:
            raise BadRequest(400, "malformed JSON", {"body": f"not valid JSON: {exc}"}) from None
        fields = validate_purchase(document)
    except BadRequest as exc:
        return exc.response()
    except InvalidSale as exc:
        return JSONResponse({"error": "invalid sale", "fields": exc.errors}, status_code=422)
    sale = Sale.accept(fields, new_sale_id(), now_ms())
    try:
        if ctx.health.draining:
            # After SIGTERM no new sale goes downstream: a request racing the shutdown, whose connection
            # may close before its answer, is then never stored either. In-flight sales still finish.
            raise DownstreamError("api shutting down")
        stored = await ctx.forwarder.forward(sale)
    except DownstreamError as exc:
        return JSONResponse(
            {"error": "unavailable", "reason": exc.reason, "id": sale.id},
            status_code=503,
            headers={"retry-after": "1"},
        )
    return JSONResponse(
        {
            "id": sale.id,
            "status": "stored",
            "accepted_at_ms": sale.accepted_at_ms,
            "partition": stored.partition,
            "offset": stored.offset,
        },
        status_code=201,
    )


def create_app(
    settings: ApiSettings, registry: CollectorRegistry, transport: httpx.AsyncBaseTransport | None = None
) -> Starlette:
    """The api; ``transport`` replaces the network under the bridge client (tests)."""
    client = httpx.AsyncClient(
        base_url=settings.bridge_url,
        transport=transport,
        timeout=httpx.Timeout(settings.forward_timeout_seconds, connect=min(2.0, settings.forward_timeout_seconds)),
        limits=httpx.Limits(
            max_connections=settings.forward_concurrency + 2,
            max_keepalive_connections=settings.forward_concurrency + 2,
        ),
    )
    forwarder = Forwarder(
        client,
        ForwarderMetrics(registry),
        batch_max=settings.forward_batch_max,
        concurrency=settings.forward_concurrency,
        timeout=settings.forward_timeout_seconds,
    )

    async def bridge_reachable() -> tuple[bool, str]:
        try:
            response = await client.get("/healthz", timeout=1.0)
        except httpx.HTTPError as exc:
            return False, f"bridge unreachable: {exc!s} ({type(exc).__name__})"
        if response.status_code != 200:
            return False, f"bridge answered {response.status_code}"
        return True, "bridge reachable"

    health = Health(registry, bridge_reachable)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, ApiContext]]:
        forwarder.start()
        try:
            yield {"ctx": ApiContext(settings, forwarder, health)}
        finally:
            await forwarder.close()
            await client.aclose()

    return json_app([Route("/purchase", purchase, methods=["POST"])], lifespan, registry, health)


async def serve(settings: ApiSettings, stop: asyncio.Event) -> None:
    app = create_app(settings, new_registry())
    await serve_http(app, settings.listen_host, settings.listen_port, settings.graceful_timeout_seconds, stop)
