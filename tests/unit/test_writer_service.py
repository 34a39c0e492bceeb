"""The writer's servicer in process (a real grpc.aio server) with a fake producer: statuses, never OK-with-error."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from blackfriday.pb import product_sale_pb2, product_sale_pb2_grpc
from blackfriday.sale import Category, Sale, Stored
from blackfriday.writer.producer import KafkaTimeout, KafkaUnavailable
from blackfriday.writer.service import ProductSaleService, WriterMetrics


class FakeProducer:
    def __init__(self) -> None:
        self.published: list[Sale] = []
        self.error: Exception | None = None

    async def publish(self, sales: Sequence[Sale], timeout: float) -> list[Stored]:
        if self.error is not None:
            raise self.error
        start = len(self.published)
        self.published.extend(sales)
        return [Stored(partition=2, offset=start + i) for i in range(len(sales))]


def request(**changes: Any) -> product_sale_pb2.ProductSaleRequest:
    fields: dict[str, Any] = {
        "categoria": product_sale_pb2.Belleza,
        "producto_id": "Labial-Matte",
        "precio": 120.5,
        "cantidad_vendida": 2,
        "sale_id": "id-1",
        "accepted_at_ms": 1_700_000_000_000,
    }
    fields.update(changes)
    return product_sale_pb2.ProductSaleRequest(**fields)


Call = Callable[["product_sale_pb2_grpc.ProductSaleServiceAsyncStub"], Awaitable[Any]]


def run(producer: FakeProducer, call: Call) -> Any:
    async def main() -> Any:
        server = grpc.aio.server()
        service = ProductSaleService(producer, WriterMetrics(CollectorRegistry()), 1.0)  # type: ignore[arg-type]
        product_sale_pb2_grpc.add_ProductSaleServiceServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                return await call(product_sale_pb2_grpc.ProductSaleServiceStub(channel))
        finally:
            await server.stop(None)

    return asyncio.run(main())


def test_single_sale_is_produced_and_acknowledged() -> None:
    producer = FakeProducer()
    reply = run(producer, lambda stub: stub.ProcesarVenta(request()))
    assert (reply.estado, reply.exito, reply.sale_id, reply.partition, reply.offset) == (
        "Procesado",
        True,
        "id-1",
        2,
        0,
    )
    sale = producer.published[0]
    assert (sale.id, sale.categoria, sale.price_cents, sale.cantidad_vendida) == ("id-1", Category.Belleza, 12050, 2)


def test_a_seed_request_without_id_gets_one() -> None:
    producer = FakeProducer()
    reply = run(producer, lambda stub: stub.ProcesarVenta(request(sale_id="", accepted_at_ms=0)))
    assert reply.sale_id
    assert producer.published[0].accepted_at_ms > 0


def test_batch_answers_in_order() -> None:
    producer = FakeProducer()
    batch = product_sale_pb2.ProductSaleBatchRequest(sales=[request(sale_id=f"id-{i}") for i in range(5)])
    reply = run(producer, lambda stub: stub.ProcesarVentas(batch))
    assert [r.sale_id for r in reply.results] == [f"id-{i}" for i in range(5)]
    assert [r.offset for r in reply.results] == list(range(5))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (KafkaUnavailable("not connected to Kafka at x:9092"), grpc.StatusCode.UNAVAILABLE),
        (KafkaTimeout("Kafka did not acknowledge within 1.0s"), grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
)
def test_kafka_failures_are_grpc_errors_not_ok(error: Exception, code: grpc.StatusCode) -> None:
    producer = FakeProducer()
    producer.error = error
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        run(producer, lambda stub: stub.ProcesarVenta(request()))
    assert caught.value.code() == code
    assert caught.value.details() == str(error)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"categoria": product_sale_pb2.UNKNOWN}, "categoria"),
        ({"precio": 0.0}, "precio"),
        ({"precio": float("nan")}, "precio"),
        ({"cantidad_vendida": 0}, "cantidad_vendida"),
        ({"producto_id": ""}, "producto_id"),
    ],
)
def test_invalid_sales_are_invalid_argument_naming_the_field(changes: dict[str, Any], field: str) -> None:
    producer = FakeProducer()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        run(producer, lambda stub: stub.ProcesarVenta(request(**changes)))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (caught.value.details() or "")
    assert producer.published == []


def test_an_empty_batch_is_invalid() -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        run(FakeProducer(), lambda stub: stub.ProcesarVentas(product_sale_pb2.ProductSaleBatchRequest()))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_one_bad_sale_fails_the_batch_and_names_its_index() -> None:
    producer = FakeProducer()
    batch = product_sale_pb2.ProductSaleBatchRequest(sales=[request(), request(sale_id="b", cantidad_vendida=-3)])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        run(producer, lambda stub: stub.ProcesarVentas(batch))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "sales[1]: cantidad_vendida" in (caught.value.details() or "")
    assert producer.published == []
