"""Test doubles shared by the unit tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from blackfriday.api.bridge_client import Answer, BridgeTimeout, BridgeUnreachable
from blackfriday.grpcwire import SERVICE_NAME
from blackfriday.pb import product_sale_pb2, product_sale_pb2_grpc


class HttpxBridge:
    """The api's bridge client over an httpx transport: a fake bridge written as an httpx handler
    (``handler(request) -> httpx.Response``, sync or async) answers the api's requests."""

    def __init__(self, handler: Any) -> None:
        self._client = httpx.AsyncClient(base_url="http://bridge", transport=httpx.MockTransport(handler))

    async def _send(self, method: str, path: str, body: bytes | None, timeout: float) -> Answer:
        headers = {"content-type": "application/json"} if body is not None else None
        try:
            response = await self._client.request(method, path, content=body, headers=headers, timeout=timeout)
        except httpx.ConnectError as exc:
            raise BridgeUnreachable(f"bridge unreachable: {exc}", sent=False) from exc
        except httpx.TimeoutException as exc:
            raise BridgeTimeout(str(exc), sent=not isinstance(exc, httpx.ConnectTimeout)) from exc
        except httpx.HTTPError as exc:
            raise BridgeUnreachable(f"bridge unreachable: {exc}", sent=True) from exc
        return Answer(response.status_code, response.content)

    async def post_json(self, path: str, body: bytes, timeout: float) -> Answer:
        return await self._send("POST", path, body, timeout)

    async def get(self, path: str, timeout: float) -> Answer:
        return await self._send("GET", path, None, timeout)

    async def aclose(self) -> None:
        await self._client.aclose()


class FakeWriter(product_sale_pb2_grpc.ProductSaleServiceServicer):
    def __init__(self) -> None:
        self.requests: list[product_sale_pb2.ProductSaleRequest] = []
        self.fail: tuple[grpc.StatusCode, str] | None = None

    def _result(self, request: product_sale_pb2.ProductSaleRequest) -> product_sale_pb2.ProductSaleResponse:
        self.requests.append(request)
        return product_sale_pb2.ProductSaleResponse(
            estado="Procesado", exito=True, sale_id=request.sale_id, partition=1, offset=len(self.requests) - 1
        )

    def ProcesarVenta(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self.fail:
            context.abort(*self.fail)
        return self._result(request)

    def ProcesarVentas(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self.fail:
            context.abort(*self.fail)
        return product_sale_pb2.ProductSaleBatchResponse(results=[self._result(r) for r in request.sales])


@dataclass
class RunningFakeWriter:
    fake: FakeWriter
    health: health.HealthServicer
    port: int
    server: grpc.Server


def start_fake_writer() -> RunningFakeWriter:
    """A real gRPC server with the fake writer and a health service saying SERVING; stop its ``server``."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    fake = FakeWriter()
    product_sale_pb2_grpc.add_ProductSaleServiceServicer_to_server(fake, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return RunningFakeWriter(fake, health_servicer, port, server)


@contextlib.contextmanager
def fake_writer() -> Iterator[tuple[FakeWriter, health.HealthServicer, int]]:
    """start_fake_writer as a context: (fake, health, port)."""
    running = start_fake_writer()
    try:
        yield running.fake, running.health, running.port
    finally:
        running.server.stop(None)
