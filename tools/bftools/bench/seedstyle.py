"""Baseline (b): the seed's design built from the project's own parts.

One sale per HTTP request per hop (the api with FORWARD_BATCH_MAX=1), one gRPC call per sale, a writer whose
producer waits for each sale's ack before the next (a synchronous producer per call, as the seed's Go
writer did), and a consumer that makes about a dozen Valkey round trips per sale (the seed's GET-then-SET
aggregates, without the Lua script and without deduplication).

    python -m bftools.bench.seedstyle writer      (LISTEN_PORT, KAFKA_BROKERS, KAFKA_TOPIC)
    python -m bftools.bench.seedstyle consumer    (KAFKA_BROKERS, KAFKA_TOPIC, KAFKA_GROUP, VALKEY_ADDR,
                                                   VALKEY_USER, VALKEY_PASSWORD)

Both log in to Kafka as the services do (KAFKA_SECURITY_PROTOCOL, KAFKA_USERNAME, ...: blackfriday.kafkaconn).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from kafka import KafkaConsumer, KafkaProducer

from blackfriday import keys
from blackfriday.grpcwire import SERVICE_NAME, sale_from_proto, stored_reply
from blackfriday.kafkaconn import KafkaSecurity
from blackfriday.pb import product_sale_pb2, product_sale_pb2_grpc
from blackfriday.sale import Sale, Stored, sale_from_json
from blackfriday.valkeyconn import Login, connect_as


class SeedWriter(product_sale_pb2_grpc.ProductSaleServiceServicer):
    def __init__(self, producer: KafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    def _store(self, request: product_sale_pb2.ProductSaleRequest) -> product_sale_pb2.ProductSaleResponse:
        sale = sale_from_proto(request)
        metadata = self._producer.send(self._topic, key=sale.producto_id.encode(), value=sale.to_json()).get(10)
        return stored_reply(sale, Stored(metadata.partition, metadata.offset))

    def ProcesarVenta(self, request: Any, context: Any) -> Any:  # noqa: N802 - the proto's name
        return self._store(request)

    def ProcesarVentas(self, request: Any, context: Any) -> Any:  # noqa: N802
        return product_sale_pb2.ProductSaleBatchResponse(results=[self._store(r) for r in request.sales])


def writer() -> None:
    security = KafkaSecurity.from_env(os.environ).client_config()
    producer = KafkaProducer(bootstrap_servers=os.environ["KAFKA_BROKERS"], acks="all", linger_ms=0, **security)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    product_sale_pb2_grpc.add_ProductSaleServiceServicer_to_server(
        SeedWriter(producer, os.environ["KAFKA_TOPIC"]), server
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    server.add_insecure_port(f"127.0.0.1:{os.environ['LISTEN_PORT']}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(2)
    producer.close(5)


def apply_seed_style(client: Any, sale: Sale) -> None:
    """The seed's aggregates: a dozen commands, each a round trip, read-then-write where it compared."""
    name = sale.categoria.name
    client.incr(keys.SALES_TOTAL)
    top = client.get(keys.PRICE_MAX)
    if top is None or sale.price_cents > round(float(top) * 100):
        client.set(keys.PRICE_MAX, f"{sale.precio:.2f}")
    low = client.get(keys.PRICE_MIN)
    if low is None or sale.price_cents < round(float(low) * 100):
        client.set(keys.PRICE_MIN, f"{sale.precio:.2f}")
    sales = client.hincrby(keys.CATEGORY_SALES, name, 1)
    units = client.hincrby(keys.CATEGORY_UNITS, name, sale.cantidad_vendida)
    cents = client.hincrby(keys.CATEGORY_PRICE_CENTS, name, sale.price_cents)
    client.hset(keys.CATEGORY_AVG_UNITS, name, f"{units / sales:.2f}")
    client.hset(keys.CATEGORY_AVG_PRICE, name, f"{cents / sales / 100:.2f}")
    client.zincrby(keys.PRODUCTS_UNITS, sale.cantidad_vendida, sale.producto_id)
    client.zincrby(keys.category_products(sale.categoria), sale.cantidad_vendida, sale.producto_id)
    if (
        client.setnx(keys.category_tracked(sale.categoria), sale.producto_id)
        or client.get(keys.category_tracked(sale.categoria)) == sale.producto_id.encode()
    ):
        client.xadd(keys.category_prices(sale.categoria), {"precio": f"{sale.precio:.2f}"}, maxlen=1000)


def consumer() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = connect_as(os.environ["VALKEY_ADDR"], Login.from_env(os.environ))
    source = KafkaConsumer(
        os.environ["KAFKA_TOPIC"],
        bootstrap_servers=os.environ["KAFKA_BROKERS"],
        group_id=os.environ["KAFKA_GROUP"],
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
        **KafkaSecurity.from_env(os.environ).client_config(),
    )
    while not stop.is_set():
        for records in source.poll(timeout_ms=200).values():
            for record in records:
                apply_seed_style(client, sale_from_json(record.value))
        source.commit()
    source.close()


if __name__ == "__main__":
    {"writer": writer, "consumer": consumer}[sys.argv[1]]()
