"""The api's forwarder: concurrent sales are coalesced into batches, each caller gets its own answer."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from prometheus_client import CollectorRegistry

from blackfriday.api.forwarder import DownstreamError, Forwarder, ForwarderMetrics, Forwarding
from blackfriday.sale import Category, Sale, Stored
from tests.unit.fakes import HttpxBridge


def sale(i: int) -> Sale:
    return Sale(f"id-{i}", 1, Category.Ropa, f"p-{i}", 100 + i, 1)


class SlowBridge:
    """Holds every request until released; answers each sale with its own offset."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        ids = [s["id"] for s in json.loads(request.content)["sales"]]
        self.batches.append(ids)
        await self.release.wait()
        return httpx.Response(
            200, json={"results": [{"id": i, "partition": 0, "offset": int(i.split("-")[1])} for i in ids]}
        )


def forwarder(handler: object, *, concurrency: int = 2, batch_max: int = 100, timeout: float = 5.0) -> Forwarder:
    return Forwarder(
        HttpxBridge(handler), ForwarderMetrics(CollectorRegistry()), Forwarding(batch_max, concurrency, timeout)
    )


def test_concurrent_sales_share_requests_and_each_gets_its_own_answer() -> None:
    async def main() -> tuple[list[Stored], list[list[str]]]:
        bridge = SlowBridge()
        fwd = forwarder(bridge, concurrency=2)
        fwd.start()
        calls = [asyncio.create_task(fwd.forward(sale(i))) for i in range(200)]
        while len(bridge.batches) < 2:  # noqa: ASYNC110 - polls the fake until both workers hold a request
            await asyncio.sleep(0)
        bridge.release.set()
        results = await asyncio.gather(*calls)
        await fwd.close()
        return results, bridge.batches

    results, batches = asyncio.run(main())
    assert [r.offset for r in results] == list(range(200))
    assert sorted(i for batch in batches for i in batch) == sorted(f"id-{i}" for i in range(200))
    assert len(batches) <= 6  # 2 lone first sales, then batches of up to 100
    assert max(len(batch) for batch in batches) == 100


def test_a_lone_sale_is_sent_at_once() -> None:
    async def main() -> Stored:
        bridge = SlowBridge()
        bridge.release.set()
        fwd = forwarder(bridge)
        fwd.start()
        result = await asyncio.wait_for(fwd.forward(sale(7)), 1.0)
        await fwd.close()
        return result

    assert asyncio.run(main()).offset == 7


def test_no_answer_in_time_is_a_downstream_error() -> None:
    async def main() -> None:
        bridge = SlowBridge()  # never released
        fwd = forwarder(bridge, timeout=0.2)
        fwd.start()
        try:
            await fwd.forward(sale(1))
        finally:
            await fwd.close()

    with pytest.raises(DownstreamError, match=r"within 0\.2s"):
        asyncio.run(main())


def test_a_bridge_error_fails_every_sale_of_the_batch_with_its_reason() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "unavailable", "reason": "writer: Kafka unavailable"})

    async def main() -> list[BaseException | Stored]:
        fwd = forwarder(failing)
        fwd.start()
        outcomes = await asyncio.gather(*(fwd.forward(sale(i)) for i in range(5)), return_exceptions=True)
        await fwd.close()
        return outcomes

    outcomes = asyncio.run(main())
    assert all(isinstance(o, DownstreamError) and "Kafka unavailable" in o.detail and o.maybe_stored for o in outcomes)


def test_a_wrong_number_of_results_is_not_taken_as_success() -> None:
    def short(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"results": []})

    async def main() -> None:
        fwd = forwarder(short)
        fwd.start()
        try:
            await fwd.forward(sale(1))
        finally:
            await fwd.close()

    with pytest.raises(DownstreamError, match="unexpected answer"):
        asyncio.run(main())
