"""The client-side ledger of a fault run (make chaos, make cluster-chaos): steady, bounded load whose every
answer is kept, and the accounting of each row against what Valkey counted.

Every sale gets a product id of its own (``r03-000123``: row 3, sale 123) and one unit, so Valkey's units
per product say, sale by sale, how many times it was counted: 0 for a lost sale, 2 for a double count.
Per fault (row of the table): sent, 201, 503, other (no answer: connection refused or cut), lost (a 201
not counted), double-counted, counted without a 201 (allowed only when the answer said it might be stored:
a 503 "stored": "unknown", or no answer at all), refused-but-counted (a violation: a 503 "stored": "no" or
a 4xx that was counted), and recovery: how long after the component was back the first 201 came (— when
201s never stopped).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, cast

import httpx
import valkey

from blackfriday import keys

RECOVERY_LIMIT: Final = 15.0
CATEGORIES: Final = ("Electronica", "Ropa", "Hogar", "Belleza")


@dataclass(frozen=True)
class Fault:
    """One row: what happens to which component, and for how long it stays down or frozen."""

    name: str
    component: str
    kind: str  # kill | stop | pause | scale
    hold: float


@dataclass
class Entry:
    row: int
    product: str
    sent: float
    done: float = 0.0
    status: int = 0  # 0: no answer
    stored: str | None = None
    #: Why it was not a 201: the answer's reason, or the client's error.
    why: str = ""


@dataclass
class Row:
    fault: Fault
    started: float = 0.0
    injected: float = 0.0
    back: float = 0.0
    ended: float = 0.0
    #: Components that died during the row without being its fault (found dead, started again).
    collateral: list[str] = field(default_factory=list)


class Load:
    """Bounded open-loop load: ``rate`` sales a second, at most ``concurrency`` in flight, to 127.0.0.1."""

    def __init__(
        self, url: str, rate: float, concurrency: int, *, allowed: Sequence[str] = ("127.0.0.1",), prefix: str = ""
    ) -> None:
        """``allowed``: the hosts the load may target (127.0.0.1, or a Service address of the local cluster,
        inside its own network namespace); ``prefix`` starts every product id (a run's own, where the topic
        may hold an earlier run's sales)."""
        if httpx.URL(url).host not in allowed:
            raise ValueError(f"chaos load only targets {', '.join(allowed)}, not {url}")
        self.url = url
        self.rate = rate
        self.concurrency = concurrency
        self.row = 0
        self.prefix = prefix
        self.ledger: list[Entry] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="chaos-load", daemon=True)
        self._sequence = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(15, connect=2), limits=limits) as client:
            slots = asyncio.Semaphore(self.concurrency)
            tasks: set[asyncio.Task[None]] = set()
            loop = asyncio.get_running_loop()
            next_at = loop.time()
            while not self._stop.is_set():
                await slots.acquire()
                task = asyncio.create_task(self._one(client, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += 1 / self.rate
                await asyncio.sleep(max(0.0, next_at - loop.time()))
            await asyncio.gather(*tasks)

    async def _one(self, client: httpx.AsyncClient, slots: asyncio.Semaphore) -> None:
        self._sequence += 1
        entry = Entry(self.row, f"{self.prefix}r{self.row:02d}-{self._sequence:06d}", time.monotonic())
        self.ledger.append(entry)
        body = {
            "categoria": random.choice(CATEGORIES),  # noqa: S311 - load, not security
            "producto_id": entry.product,
            "precio": round(random.uniform(1, 500), 2),  # noqa: S311
            "cantidad_vendida": 1,
        }
        try:
            response = await client.post("/purchase", json=body)
            entry.status = response.status_code
            if response.headers.get("content-type", "").startswith("application/json"):
                answer = response.json()
                entry.stored = answer.get("stored")
                entry.why = "" if entry.status == 201 else str(answer.get("reason") or answer.get("error"))
        except httpx.HTTPError as exc:
            entry.status = 0
            entry.why = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            entry.done = time.monotonic()
            slots.release()


@dataclass
class Result:
    fault: Fault
    sent: int = 0
    created: int = 0
    unavailable: int = 0
    other: int = 0
    lost: int = 0
    doubled: int = 0
    counted_unknown: int = 0
    refused_but_counted: int = 0
    recovery: float | None = None  # None: 201s never stopped
    recovered: bool = True
    collateral: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The alerts a real Prometheus fired during the row: "Name after 4 s, stopped 3 s after the recovery".
    alerts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.doubled == 0
            and self.refused_but_counted == 0
            and self.recovered
            and not self.collateral
            and (self.recovery is None or self.recovery <= RECOVERY_LIMIT)
        )


def account(rows: Sequence[Row], ledger: Sequence[Entry], counts: Mapping[str, int]) -> list[Result]:
    """Each row's figures from the ledger and how many times Valkey counted each sale."""
    results = []
    for index, row in enumerate(rows):
        result = Result(row.fault, collateral=list(row.collateral))
        mine = [e for e in ledger if e.row == index]
        result.sent = len(mine)
        for entry in mine:
            counted = counts.get(entry.product, 0)
            if entry.status == 201:
                result.created += 1
                result.lost += counted == 0
            elif entry.status == 503:
                result.unavailable += 1
            else:
                result.other += 1
            result.doubled += counted > 1
            if entry.status != 201 and counted:
                if entry.status == 0 or entry.stored == "unknown":
                    result.counted_unknown += 1
                else:
                    result.refused_but_counted += 1
        failed_before_back = [e for e in mine if e.status != 201 and e.sent >= row.injected]
        if failed_before_back:
            after = [e.done for e in mine if e.status == 201 and e.sent >= row.back]
            if after:
                result.recovery = max(0.0, min(after) - row.back)
            else:
                result.recovered = False
        results.append(result)
    return results


def unit_counts(client: valkey.Valkey, products: Sequence[str]) -> dict[str, int]:
    """How many units Valkey counted for each product (each chaos sale is one unit of its own product)."""
    counts: dict[str, int] = {}
    for start in range(0, len(products), 1000):
        chunk = list(products[start : start + 1000])
        scores = cast(list[float | None], client.zmscore(keys.PRODUCTS_UNITS, chunk))
        counts.update({p: int(s) for p, s in zip(chunk, scores, strict=True) if s is not None})
    return counts


def table(results: Sequence[Result]) -> str:
    header = (
        "| fault | sent | 201 | 503 | other | lost | double-counted | counted without 201 (unknown) "
        "| refused but counted | 201s back after | also died | alerts that fired (a real Prometheus) |"
    )
    lines = [header, "|" + "---|" * 12]
    for r in results:
        recovery = "—" if r.recovery is None else f"{r.recovery:.1f} s" if r.recovered else "never"
        lines.append(
            f"| {r.fault.name} | {r.sent} | {r.created} | {r.unavailable} | {r.other} | {r.lost} | {r.doubled} "
            f"| {r.counted_unknown} | {r.refused_but_counted} | {recovery} | {', '.join(r.collateral) or '—'} "
            f"| {'; '.join(r.alerts) or '—'} |"
        )
    return "\n".join(lines)
