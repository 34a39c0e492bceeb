"""`make chaos`: faults injected one after another into a local stack under continuous, bounded load.

A client-side ledger keeps every answer. Every sale gets a product id of its own (``r03-000123``: row 3,
sale 123) and one unit, so Valkey's units per product say, sale by sale, how many times it was counted:
0 for a lost sale, 2 for a double count. Per fault (row of the table):

    sent, 201, 503, other (no answer: connection refused or cut), lost (a 201 not counted),
    double-counted, counted without a 201 (allowed only when the answer said it might be stored:
    a 503 "stored": "unknown", or no answer at all), refused-but-counted (a violation: a 503 "stored":
    "no" or a 4xx that was counted), and recovery: how long after the component was back the first 201
    came (— when 201s never stopped).

The run fails (exit 1) on any lost, double-counted or refused-but-counted sale, or a recovery over 15 s.
Traffic goes only to 127.0.0.1; the run is bounded (the rows, their hold times, the rate).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast

import httpx
import valkey

from bftools.runtime.ports import free_port
from bftools.runtime.process import Proc, die_with_this_process, wait_for
from bftools.stack.services import Pipeline
from bftools.stack.stack import Stack
from blackfriday import keys
from blackfriday.valkeyconn import connect

RECOVERY_LIMIT: Final = 15.0
CATEGORIES: Final = ("Electronica", "Ropa", "Hogar", "Belleza")


@dataclass(frozen=True)
class Fault:
    """One row: what happens to which component, and for how long it stays down or frozen."""

    name: str
    component: str
    kind: str  # kill | stop | pause | scale
    hold: float


def faults(hold: float, broker_hold: float) -> list[Fault]:
    """The matrix. ``broker_hold`` outlasts the writer's delivery timeout (5 s): the batches in flight
    expire in the producer, the case that once left the writer stuck for good."""
    rows = [Fault(f"SIGKILL {name}", name, "kill", hold) for name in ("api", "bridge", "writer", "consumer")]
    rows += [
        Fault("SIGKILL kafka", "kafka", "kill", broker_hold),
        Fault("SIGKILL valkey", "valkey", "kill", hold),
        Fault("SIGSTOP writer", "writer", "stop", broker_hold),
        Fault("SIGSTOP kafka", "kafka", "stop", broker_hold),
        Fault("SIGSTOP valkey", "valkey", "stop", hold),
        Fault("CLIENT PAUSE valkey", "valkey", "pause", hold),
        Fault("consumer added, removed", "consumer-2", "scale", hold),
    ]
    return rows


@dataclass
class Entry:
    row: int
    product: str
    sent: float
    done: float = 0.0
    status: int = 0  # 0: no answer
    stored: str | None = None


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

    def __init__(self, url: str, rate: float, concurrency: int) -> None:
        if httpx.URL(url).host != "127.0.0.1":
            raise ValueError(f"chaos load only targets 127.0.0.1, not {url}")
        self.url = url
        self.rate = rate
        self.concurrency = concurrency
        self.row = 0
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
        entry = Entry(self.row, f"r{self.row:02d}-{self._sequence:06d}", time.monotonic())
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
                entry.stored = response.json().get("stored")
        except httpx.HTTPError:
            entry.status = 0
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
        "| refused but counted | 201s back after | also died |"
    )
    lines = [header, "|" + "---|" * 11]
    for r in results:
        recovery = "—" if r.recovery is None else f"{r.recovery:.1f} s" if r.recovered else "never"
        lines.append(
            f"| {r.fault.name} | {r.sent} | {r.created} | {r.unavailable} | {r.other} | {r.lost} | {r.doubled} "
            f"| {r.counted_unknown} | {r.refused_but_counted} | {recovery} | {', '.join(r.collateral) or '—'} |"
        )
    return "\n".join(lines)


class Chaos:
    def __init__(self, stack: Stack, environ: Mapping[str, str], say: Callable[[str], None]) -> None:
        self.stack = stack
        self.environ = environ
        self.say = say
        self.extra: list[Proc] = []

    def _procs(self) -> dict[str, Proc]:
        return self.stack.procs()

    def _restart(self, row: Row) -> None:
        """`make up`'s heal: start again what is not running, on its ports. Whatever it had to start besides
        the row's own victim died of the fault: the row records it (and fails)."""
        restarted = self.stack.up(self.environ).restarted
        row.collateral += [name for name in restarted if name != row.fault.component and name not in row.collateral]

    def check_survivors(self, row: Row) -> None:
        """After the row: every component must still be running; any that is not is recorded and started."""
        if any(not proc.alive() for proc in self._procs().values()):
            self._restart(row)

    def inject(self, row: Row, pipeline: Pipeline) -> None:
        fault = row.fault
        row.injected = time.monotonic()
        if fault.kind == "kill":
            proc = self._procs()[fault.component]
            proc.signal(signal.SIGKILL)
            wait_for(lambda: not proc.alive(), 10)
            time.sleep(fault.hold)  # the outage itself: nothing to poll for
            self._restart(row)
        elif fault.kind == "stop":
            proc = self._procs()[fault.component]
            proc.signal(signal.SIGSTOP)
            try:
                time.sleep(fault.hold)
            finally:
                proc.signal(signal.SIGCONT)
        elif fault.kind == "pause":
            with connect(f"127.0.0.1:{self.stack.state()['ports']['valkey']}", None) as client:  # type: ignore[index]
                client.execute_command("CLIENT", "PAUSE", int(fault.hold * 1000), "ALL")
            time.sleep(fault.hold)  # the pause itself
        else:  # scale: a second consumer joins the group, then leaves it
            proc = pipeline.start("consumer-2", wait=True)
            self.extra.append(proc)
            time.sleep(fault.hold)
            proc.stop(timeout=30)
        row.back = time.monotonic()


def run(
    environ: Mapping[str, str],
    *,
    hold: float,
    broker_hold: float,
    settle: float,
    rate: float,
    say: Callable[[str], None] = print,
) -> tuple[int, list[Result]]:
    """Run the matrix on a fresh stack of its own (free ports) and stop it; (exit code, results)."""
    env = {
        **environ,
        "BF_API_PORT": str(free_port()),
        "BF_VALKEY_PORT": str(free_port()),
        "BF_KAFKA_PORT": str(free_port()),
    }
    die_with_this_process()  # the chaos stack is this run's own: it never outlives it
    stack = Stack("chaos")
    stack.down()
    chaos = Chaos(stack, env, say)
    say("chaos: starting a fresh local stack on free ports ...")
    ports = stack.up(env, fresh=True).ports
    load = Load(f"http://127.0.0.1:{ports['api']}", rate=rate, concurrency=32)
    rows = [Row(f) for f in faults(hold, broker_hold)]
    try:
        pipeline = stack.pipeline()
        load.start()
        for index, row in enumerate(rows):
            load.row = index
            row.started = time.monotonic()
            time.sleep(settle / 2)  # sales flowing before the fault: a stretch of load, not a wait for a state
            say(f"chaos: {row.fault.name} (hold {row.fault.hold:g} s)")
            chaos.inject(row, pipeline)
            time.sleep(settle)  # and after it
            chaos.check_survivors(row)
            row.ended = time.monotonic()
        load.stop()
        say("chaos: load stopped; waiting for the consumer to count every stored sale ...")
        with connect(f"127.0.0.1:{ports['valkey']}", None) as client:
            created = [e.product for e in load.ledger if e.status == 201]
            wait_for(lambda: len(unit_counts(client, created)) == len(created), 120, interval=1.0)
            counts = unit_counts(client, [e.product for e in load.ledger])
    finally:
        with contextlib.suppress(Exception):
            load.stop()
        for proc in chaos.extra:
            proc.stop(timeout=10)
        stack.down()
    results = account(rows, load.ledger, counts)
    return (0 if all(r.ok for r in results) else 1), results


def write_doc(doc: Path, text: str) -> None:
    """Replace the table between the markers of docs/reliability.md."""
    content = doc.read_text()
    pattern = re.compile(r"(<!-- chaos:begin -->\n)(?:.*?\n)?(<!-- chaos:end -->)", re.S)
    if not pattern.search(content):
        raise ValueError(f"{doc} has no <!-- chaos:begin --> ... <!-- chaos:end --> section")
    doc.write_text(pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(2), content))


def summary(results: Sequence[Result], seconds: float, rate: float) -> str:
    sent = sum(r.sent for r in results)
    bad = [r.fault.name for r in results if not r.ok]
    verdict = "every row holds: 0 lost, 0 double-counted" if not bad else f"FAILED: {', '.join(bad)}"
    return f"{table(results)}\n\n{sent} sales sent (offered at {rate:g}/s) in a run of {seconds:.0f} s; {verdict}"
