"""Forwards accepted sales to the bridge, coalescing concurrent sales into batch requests.

A fixed set of workers shares one pooled keep-alive HTTP client. Each worker takes every sale waiting in
the queue (up to ``batch_max``) and posts them in one request to ``/forward/batch``: under light load a
sale travels alone at once; under heavy load the queue fills while requests are in flight and the next
request carries many sales. Each caller still waits for its own sale's ack (or its own timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from blackfriday.api.bridge_client import Answer, Bridge, BridgeError, BridgeTimeout
from blackfriday.metrics import batch_sizes, latency
from blackfriday.sale import Sale, Stored

log = logging.getLogger(__name__)


class DownstreamError(Exception):
    """The sale could not be stored now.

    ``maybe_stored`` is True when it went downstream and its answer was lost (it may still land, and is
    then counted once), False when it never left the api. ``detail`` is for the logs only: it can name
    internal addresses.
    """

    def __init__(self, cause: str, detail: str, *, maybe_stored: bool) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.maybe_stored = maybe_stored


class ForwarderMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.batch_size = batch_sizes(registry, "bf_api_forward_batch_size", "Sales per request to the bridge")
        self.batch_seconds = latency(registry, "bf_api_forward_seconds", "Latency of batch requests to the bridge")
        self.failures = Counter(
            "bf_api_forward_failures",
            "Sales the downstream could not store, by cause",
            ["cause"],
            registry=registry,
        )


@dataclass(slots=True)
class _Item:
    sale: Sale
    waiter: asyncio.Future[Stored]
    #: Taken by a worker into a request to the bridge: from then on its fate is known only downstream.
    sent: bool = False


@dataclass(frozen=True, slots=True)
class Forwarding:
    """How sales go to the bridge: at most ``batch_max`` per request, ``concurrency`` requests at once, and
    how long a caller waits for its sale's answer."""

    batch_max: int
    concurrency: int
    timeout: float


class Forwarder:
    def __init__(self, bridge: Bridge, metrics: ForwarderMetrics, forwarding: Forwarding) -> None:
        self._bridge, self._metrics = bridge, metrics
        self._batch_max, self._concurrency, self._timeout = (
            forwarding.batch_max,
            forwarding.concurrency,
            forwarding.timeout,
        )
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work(), name=f"forward-{i}") for i in range(self._concurrency)]

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.waiter.done():
                item.waiter.set_exception(DownstreamError("shutting_down", "api shutting down", maybe_stored=False))

    async def forward(self, sale: Sale) -> Stored:
        """Wait until the bridge reports the sale stored in Kafka; DownstreamError otherwise."""
        item = _Item(sale, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(item)
        try:
            async with asyncio.timeout(self._timeout):
                return await item.waiter  # cancelled by the timeout: a worker then skips it, or drops its answer
        except TimeoutError:
            self._metrics.failures.labels("timeout").inc()
            raise DownstreamError(
                "timeout", f"no answer from the bridge within {self._timeout:g}s", maybe_stored=item.sent
            ) from None
        finally:
            if not item.waiter.done():
                item.waiter.cancel()  # a worker skips it, or ignores its late answer

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            live = [item for item in batch if not item.waiter.done()]
            for item in live:
                item.sent = True
            if live:
                await self._send(live)

    async def _send(self, batch: list[_Item]) -> None:
        self._metrics.batch_size.observe(len(batch))
        body = json.dumps({"sales": [item.sale.to_wire() for item in batch]}, ensure_ascii=False).encode()
        started = time.perf_counter()
        try:
            answer = await self._bridge.post_json("/forward/batch", body, self._timeout)
        except BridgeTimeout as exc:
            self._fail(batch, "timeout", f"the bridge did not answer within {self._timeout:g}s", sent=exc.sent)
            return
        except BridgeError as exc:
            self._fail(batch, "bridge_unreachable", str(exc), sent=exc.sent)
            return
        finally:
            self._metrics.batch_seconds.observe(time.perf_counter() - started)
        if answer.status != 200:
            self._fail(batch, f"bridge_{answer.status}", _reason(answer))
            return
        try:
            results = json.loads(answer.body)["results"]
            stored = [Stored(int(r["partition"]), int(r["offset"])) for r in results]
            if len(stored) != len(batch):
                raise ValueError(f"{len(stored)} results for {len(batch)} sales")
        except (ValueError, KeyError, TypeError) as exc:
            self._fail(batch, "bad_answer", f"unexpected answer from the bridge: {exc}")
            return
        for item, result in zip(batch, stored, strict=True):
            if not item.waiter.done():
                item.waiter.set_result(result)

    def _fail(self, batch: list[_Item], cause: str, detail: str, *, sent: bool = True) -> None:
        """Answer the batch's callers with the failure; ``sent``: whether the request left for the bridge."""
        log.warning("forward failed", extra={"cause": cause, "reason": detail, "sales": len(batch), "sent": sent})
        self._metrics.failures.labels(cause).inc(len(batch))
        for item in batch:
            if not item.waiter.done():
                item.waiter.set_exception(DownstreamError(cause, detail, maybe_stored=sent))


def _reason(answer: Answer) -> str:
    try:
        body: Any = json.loads(answer.body)
        detail = body.get("reason") or body.get("error")
    except (ValueError, AttributeError):
        detail = answer.body[:200].decode(errors="replace")
    return f"bridge answered {answer.status}: {detail}"
