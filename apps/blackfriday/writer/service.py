"""ProductSaleService: validates, produces to Kafka, answers only after the broker's ack.

Failures are gRPC status codes, never an OK carrying an error string:
INVALID_ARGUMENT (bad sale, the details name the fields), UNAVAILABLE (Kafka not reachable or refusing),
DEADLINE_EXCEEDED (no ack in time: the sale may still land; the consumer deduplicates by id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter

from blackfriday.grpcwire import sale_from_proto, stored_reply
from blackfriday.metrics import batch_sizes, latency
from blackfriday.pb import product_sale_pb2, product_sale_pb2_grpc
from blackfriday.sale import MAX_BATCH, InvalidSale, Sale
from blackfriday.writer.producer import KafkaTimeout, KafkaUnavailable, SaleProducer

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]


class WriterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sales = Counter(
            "bf_writer_sales", "Sales handled by the writer, by outcome", ["outcome"], registry=registry
        )
        self.ack_seconds = latency(
            registry, "bf_writer_ack_seconds", "Time from receiving a call to Kafka's ack of all its sales"
        )
        self.batch_size = batch_sizes(registry, "bf_writer_batch_size", "Sales per gRPC call")


class ProductSaleService(product_sale_pb2_grpc.ProductSaleServiceServicer):
    def __init__(self, producer: SaleProducer, metrics: WriterMetrics, default_timeout: float) -> None:
        self._producer = producer
        self._metrics = metrics
        self._default_timeout = default_timeout

    async def ProcesarVenta(
        self, request: product_sale_pb2.ProductSaleRequest, context: Context
    ) -> product_sale_pb2.ProductSaleResponse:
        responses = await self._process([request], context)
        return responses[0]

    async def ProcesarVentas(
        self, request: product_sale_pb2.ProductSaleBatchRequest, context: Context
    ) -> product_sale_pb2.ProductSaleBatchResponse:
        if not request.sales:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "sales: at least one sale is required")
        if len(request.sales) > MAX_BATCH:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"sales: at most {MAX_BATCH} sales per call, got {len(request.sales)}",
            )
        return product_sale_pb2.ProductSaleBatchResponse(results=await self._process(request.sales, context))

    async def _process(
        self, requests: Sequence[product_sale_pb2.ProductSaleRequest], context: Context
    ) -> list[product_sale_pb2.ProductSaleResponse]:
        started = time.perf_counter()
        self._metrics.batch_size.observe(len(requests))
        sales: list[Sale] = []
        for index, request in enumerate(requests):
            try:
                sales.append(sale_from_proto(request))
            except InvalidSale as exc:
                self._metrics.sales.labels("invalid").inc(len(requests))
                where = f"sales[{index}]: " if len(requests) > 1 else ""
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{where}{exc}")
        remaining = context.time_remaining()
        timeout = self._default_timeout if remaining is None else max(min(remaining, self._default_timeout), 0.0)
        try:
            acks = await self._producer.publish(sales, timeout)
        except KafkaUnavailable as exc:
            self._metrics.sales.labels("unavailable").inc(len(sales))
            log.warning("Kafka unavailable", extra={"error": str(exc), "sales": len(sales)})
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except KafkaTimeout as exc:
            self._metrics.sales.labels("timeout").inc(len(sales))
            log.warning("Kafka ack timed out", extra={"error": str(exc), "sales": len(sales)})
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, str(exc))
        self._metrics.sales.labels("acked").inc(len(sales))
        self._metrics.ack_seconds.observe(time.perf_counter() - started)
        return [stored_reply(sale, ack) for sale, ack in zip(sales, acks, strict=True)]
