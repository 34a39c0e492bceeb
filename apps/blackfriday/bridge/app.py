"""The bridge's Starlette application.

POST /forward        one sale (the internal JSON form; a seed-style body without id gets one) -> ProcesarVenta
POST /forward/batch  {"sales": [...]} -> ProcesarVentas, one gRPC call for the whole batch
GET  /healthz, /readyz (the writer's gRPC health), /metrics
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from blackfriday.bridge.settings import BridgeSettings
from blackfriday.bridge.status import http_status
from blackfriday.bridge.writer_link import WriterLink
from blackfriday.grpcwire import sale_to_proto
from blackfriday.httpserver import serve_http
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.metrics import new_registry
from blackfriday.pb import product_sale_pb2, product_sale_pb2_grpc
from blackfriday.sale import MAX_BATCH, InvalidSale, Sale, loads_strict, sale_from_wire
from blackfriday.web import BadRequest, Health, context, error_response, json_app, read_json_body

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BridgeContext:
    settings: BridgeSettings
    stub: product_sale_pb2_grpc.ProductSaleServiceAsyncStub
    writers: WriterLink


def _sale(document: Any, where: str = "") -> Sale:
    if isinstance(document, dict) and "id" not in document and "accepted_at_ms" not in document:
        document = {"id": new_sale_id(), "accepted_at_ms": now_ms(), **document}  # a seed-style body
    try:
        return sale_from_wire(document)
    except InvalidSale as exc:
        raise BadRequest(422, "invalid sale", {f"{where}{k}": v for k, v in exc.errors.items()}) from None


async def _document(request: Request) -> Any:
    settings = context(request, BridgeContext).settings
    body = await read_json_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
    try:
        return loads_strict(body)
    except ValueError as exc:
        raise BadRequest(400, "malformed JSON", {"body": f"not valid JSON: {exc}"}) from None


def _grpc_error(exc: grpc.aio.AioRpcError, writers: WriterLink) -> Response:
    """The writer's failure as HTTP: the status grpc-gateway maps its code to. The details stay in the logs
    (they can name brokers), except a refused sale's field errors, which the caller must see. A call that
    ran out of time waiting for a writer to connect (wait_for_ready) is UNAVAILABLE, not a slow writer."""
    code = exc.code()
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return error_response(http_status(code), "invalid sale", exc.details() or "refused by the writer")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and not writers.connected():
        log.warning("no writer connected before the call's deadline", extra={"details": exc.details()})
        return error_response(503, "unavailable", "no writer is available")
    log.warning("the writer could not store the sales", extra={"code": code.name, "details": exc.details()})
    return error_response(http_status(code), code.name.lower(), "the writer could not store the sales")


def _stored(result: product_sale_pb2.ProductSaleResponse) -> dict[str, Any]:
    return {"id": result.sale_id, "partition": result.partition, "offset": result.offset}


async def forward(request: Request) -> Response:
    ctx = context(request, BridgeContext)
    try:
        sale = _sale(await _document(request))
    except BadRequest as exc:
        return exc.response()
    try:
        result = await ctx.stub.ProcesarVenta(
            sale_to_proto(sale), timeout=ctx.settings.grpc_timeout_seconds, wait_for_ready=True
        )
    except grpc.aio.AioRpcError as exc:
        return _grpc_error(exc, ctx.writers)
    return JSONResponse({"estado": result.estado, **_stored(result)})


async def forward_batch(request: Request) -> Response:
    ctx = context(request, BridgeContext)
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
        # wait_for_ready: while no writer is connected (one restarting, a rollout), the call waits for one
        # until its deadline instead of failing at once; it is sent only once a writer is there.
        reply = await ctx.stub.ProcesarVentas(
            request_proto, timeout=ctx.settings.grpc_timeout_seconds, wait_for_ready=True
        )
    except grpc.aio.AioRpcError as exc:
        return _grpc_error(exc, ctx.writers)
    return JSONResponse({"results": [_stored(r) for r in reply.results]})


def create_app(settings: BridgeSettings, registry: CollectorRegistry) -> Starlette:
    writer = WriterLink(settings.grpc_host)
    health = Health(registry, writer.ready)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, BridgeContext]]:
        stub = writer.open()
        try:
            yield {"ctx": BridgeContext(settings, stub, writer)}
        finally:
            await writer.close()

    routes = [
        Route("/forward", forward, methods=["POST"]),
        Route("/forward/batch", forward_batch, methods=["POST"]),
    ]
    return json_app(routes, lifespan, registry, health)


async def serve(settings: BridgeSettings, stop: asyncio.Event) -> None:
    registry = new_registry()
    await serve_http(create_app(settings, registry), settings, stop, registry)
