"""The bridge's Starlette application.

POST /forward        one sale (the internal JSON form; a seed-style body without id gets one) -> ProcesarVenta
POST /forward/batch  {"sales": [...]} -> ProcesarVentas, one gRPC call for the whole batch
GET  /healthz, /readyz (the writer's gRPC health), /metrics
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from blackfriday.bridge.settings import BridgeSettings
from blackfriday.bridge.status import http_status
from blackfriday.grpcwire import sale_to_proto
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.pb import product_sale_pb2, product_sale_pb2_grpc
from blackfriday.sale import InvalidSale, Sale, loads_strict, sale_from_wire
from blackfriday.web import BadRequest, Health, HttpMetrics, error_response, read_json_body

SERVICE_NAME = product_sale_pb2.DESCRIPTOR.services_by_name["ProductSaleService"].full_name
MAX_BATCH = 1000

# Round-robin over every address the target resolves to (a headless Service gives one per writer pod);
# keepalive notices a dead writer without waiting for a call to fail.
CHANNEL_OPTIONS = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
]


@dataclass(frozen=True, slots=True)
class BridgeContext:
    settings: BridgeSettings
    stub: product_sale_pb2_grpc.ProductSaleServiceAsyncStub


def _context(request: Request) -> BridgeContext:
    ctx: BridgeContext = request.state.ctx
    return ctx


def _sale(document: Any, where: str = "") -> Sale:
    if isinstance(document, dict) and "id" not in document and "accepted_at_ms" not in document:
        document = {"id": new_sale_id(), "accepted_at_ms": now_ms(), **document}  # a seed-style body
    try:
        return sale_from_wire(document)
    except InvalidSale as exc:
        raise BadRequest(422, "invalid sale", {f"{where}{k}": v for k, v in exc.errors.items()}) from None


async def _document(request: Request) -> Any:
    body = await read_json_body(request, _context(request).settings.max_body_bytes)
    try:
        return loads_strict(body)
    except ValueError as exc:
        raise BadRequest(400, "malformed JSON", {"body": f"not valid JSON: {exc}"}) from None


def _grpc_error(exc: grpc.aio.AioRpcError) -> Response:
    code = exc.code()
    return error_response(http_status(code), code.name.lower(), f"writer: {exc.details() or code.name}")


def _stored(result: product_sale_pb2.ProductSaleResponse) -> dict[str, Any]:
    return {"id": result.sale_id, "partition": result.partition, "offset": result.offset}


async def forward(request: Request) -> Response:
    ctx = _context(request)
    try:
        sale = _sale(await _document(request))
    except BadRequest as exc:
        return exc.response()
    try:
        result = await ctx.stub.ProcesarVenta(sale_to_proto(sale), timeout=ctx.settings.grpc_timeout_seconds)
    except grpc.aio.AioRpcError as exc:
        return _grpc_error(exc)
    return JSONResponse({"estado": result.estado, **_stored(result)})


async def forward_batch(request: Request) -> Response:
    ctx = _context(request)
    try:
        document = await _document(request)
        sales = document.get("sales") if isinstance(document, dict) else None
        if not isinstance(sales, list) or not 1 <= len(sales) <= MAX_BATCH:
            raise BadRequest(422, "invalid batch", {"sales": f"must be a list of 1 to {MAX_BATCH} sales"})
        batch = [_sale(item, f"sales[{i}].") for i, item in enumerate(sales)]
    except BadRequest as exc:
        return exc.response()
    request_proto = product_sale_pb2.ProductSaleBatchRequest(sales=[sale_to_proto(s) for s in batch])
    try:
        reply = await ctx.stub.ProcesarVentas(request_proto, timeout=ctx.settings.grpc_timeout_seconds)
    except grpc.aio.AioRpcError as exc:
        return _grpc_error(exc)
    return JSONResponse({"results": [_stored(r) for r in reply.results]})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, "not found" if exc.status_code == 404 else "bad request", exc.detail)


def create_app(settings: BridgeSettings, registry: CollectorRegistry) -> Starlette:
    state: dict[str, grpc.aio.Channel] = {}

    async def writer_ready() -> tuple[bool, str]:
        channel = state.get("channel")
        if channel is None:
            return False, "not started"
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1.0
            )
        except grpc.aio.AioRpcError as exc:
            return False, f"writer unreachable: {exc.code().name}"
        serving = reply.status == health_pb2.HealthCheckResponse.SERVING
        return serving, "writer serving" if serving else "writer not serving (Kafka unreachable?)"

    health = Health(registry, writer_ready)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, BridgeContext]]:
        channel = grpc.aio.insecure_channel(settings.grpc_host, options=CHANNEL_OPTIONS)
        state["channel"] = channel
        try:
            yield {"ctx": BridgeContext(settings, product_sale_pb2_grpc.ProductSaleServiceStub(channel))}
        finally:
            await channel.close(grace=None)

    app = Starlette(
        routes=[
            Route("/forward", forward, methods=["POST"]),
            Route("/forward/batch", forward_batch, methods=["POST"]),
            *health.routes(),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.health = health
    app.add_middleware(
        HttpMetrics,
        registry=registry,
        routes=["/forward", "/forward/batch", "/healthz", "/readyz", "/metrics"],
    )
    return app
