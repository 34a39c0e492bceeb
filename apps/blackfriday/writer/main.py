"""bf-writer: the gRPC server in front of Kafka.

Health: the standard gRPC health service. The overall service ("") is SERVING while the process runs
(liveness); ``blackfriday.ProductSaleService`` is SERVING only while the writer can produce to Kafka
(readiness). Metrics and the same checks over HTTP on METRICS_PORT (/metrics, /healthz, /readyz).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from blackfriday.bootstrap import service_main
from blackfriday.grpcwire import SERVICE_NAME
from blackfriday.metrics import new_registry
from blackfriday.netcheck import tcp_reachable_async
from blackfriday.opsserver import OpsServer
from blackfriday.pb import product_sale_pb2_grpc
from blackfriday.readiness import Readiness
from blackfriday.writer.producer import SaleProducer
from blackfriday.writer.service import ProductSaleService, WriterMetrics
from blackfriday.writer.settings import WriterSettings

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _watch_kafka(
    settings: WriterSettings, producer: SaleProducer, health_servicer: Any, readiness: Readiness
) -> None:
    """Keep readiness in step with the producer's health and Kafka's reachability (checked every 2 s)."""
    while True:
        ready, reason = producer.health()
        if ready and not await tcp_reachable_async(settings.kafka_brokers, timeout=1.0):
            ready, reason = False, "Kafka not reachable"
        if readiness.set(ready, reason):
            await health_servicer.set(SERVICE_NAME, SERVING if ready else NOT_SERVING)
            log.info("readiness changed", extra={"ready": ready, "reason": reason})
        await asyncio.sleep(2.0)


async def serve(settings: WriterSettings, stop: asyncio.Event) -> None:
    registry = new_registry()
    producer = SaleProducer(settings)
    await producer.start()
    server = grpc.aio.server(
        options=[
            ("grpc.so_reuseport", 0),
            # A connection older than this is ended (GOAWAY, its calls finish): the bridges look the writers
            # up again, and spread over writers added since (scaled out, rolled out).
            ("grpc.max_connection_age_ms", settings.max_connection_age_seconds * 1000),
            ("grpc.max_connection_age_grace_ms", int(settings.grace_seconds * 1000)),
        ]
    )
    product_sale_pb2_grpc.add_ProductSaleServiceServicer_to_server(
        ProductSaleService(producer, WriterMetrics(registry), settings.delivery_timeout_ms / 1000), server
    )
    health_servicer: Any = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    port = server.add_insecure_port(f"{settings.listen_host}:{settings.listen_port}")
    if port == 0:
        raise OSError(f"LISTEN_PORT: cannot listen on {settings.listen_host}:{settings.listen_port}")
    await health_servicer.set("", SERVING)
    await health_servicer.set(SERVICE_NAME, NOT_SERVING)
    readiness = Readiness("Kafka not reachable yet")
    ops = OpsServer(
        settings.listen_host, settings.metrics_port, registry, live=lambda: (True, "running"), ready=readiness.state
    ).start()
    await server.start()
    watcher = asyncio.create_task(_watch_kafka(settings, producer, health_servicer, readiness))
    log.info("writer listening", extra={"port": port, "topic": settings.kafka_topic})
    try:
        await stop.wait()
    finally:
        log.info("draining in-flight calls", extra={"grace_seconds": settings.grace_seconds})
        readiness.drain()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await health_servicer.enter_graceful_shutdown()
        await server.stop(settings.grace_seconds)
        await producer.close(timeout=settings.grace_seconds)
        ops.stop()


main = service_main("writer", WriterSettings, serve)

if __name__ == "__main__":
    sys.exit(main(None))
