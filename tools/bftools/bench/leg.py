"""Load on the bridge -> writer leg alone: batches of sales over gRPC (ProcesarVentas) or HTTP/JSON.

    python -m bftools.bench.leg grpc|http HOST:PORT SECONDS CONCURRENCY BATCH

Prints one JSON line: sales per second, p50 and p99 latency of the calls (ms), errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import grpc

from blackfriday.api.bridge_client import BridgeClient
from blackfriday.grpcwire import sale_to_proto
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.pb import product_sale_pb2, product_sale_pb2_grpc
from blackfriday.sale import Category, Sale


def batch(size: int) -> list[Sale]:
    return [Sale(new_sale_id(), now_ms(), Category(1 + i % 4), f"P-{i % 50}", 100 + i, 1 + i % 3) for i in range(size)]


async def run(kind: str, address: str, seconds: float, concurrency: int, size: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    if kind == "grpc":
        channel = grpc.aio.insecure_channel(address)
        stub = product_sale_pb2_grpc.ProductSaleServiceStub(channel)

        async def call() -> None:
            request = product_sale_pb2.ProductSaleBatchRequest(sales=[sale_to_proto(s) for s in batch(size)])
            await stub.ProcesarVentas(request, timeout=10)

    else:
        client = BridgeClient(f"http://{address}", pool_size=concurrency, connect_timeout=2, idle_seconds=1)

        async def call() -> None:
            body = json.dumps({"sales": [s.to_wire() for s in batch(size)]}).encode()
            answer = await client.post_json("/produce", body, 10)
            if answer.status != 200:
                raise RuntimeError(answer.status)

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(q: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return {"sales_per_s": len(latencies) * size / elapsed, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "errors": errors}


if __name__ == "__main__":
    import uvloop

    kind, address, seconds, concurrency, size = sys.argv[1:6]
    print(json.dumps(uvloop.run(run(kind, address, float(seconds), int(concurrency), int(size)))))
