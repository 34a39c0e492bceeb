"""Driving the real pipeline from tests: post sales, wait for the consumer, read `make report`'s output."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import httpx
import valkey
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from bftools.runtime.process import wait_for
from blackfriday import keys
from blackfriday.report import build_report, read_figures
from blackfriday.sale import Category, sale_from_json, validate_purchase
from blackfriday.valkeyconn import Login, connect_as
from tests.model import Line

PRODUCTS = {
    "Electronica": ["TV-Samsung", "iPhone-15", "Laptop-HP"],
    "Ropa": ["Camisa-Polo", "Jeans-Levis", "Vestido-Gala"],
    "Hogar": ["Licuadora", "Microondas", "Sofa"],
    "Belleza": ["Labial-Matte", "Base-Liquida", "Perfume-Floral", "Crema-Hidratante"],
}


@dataclass(frozen=True)
class Outcome:
    body: dict[str, Any]
    status: int
    answer: dict[str, Any]

    @property
    def stored(self) -> bool:
        return self.status == 201

    def line(self) -> Line:
        fields = validate_purchase(self.body)
        return Line(fields.categoria.name, fields.producto_id, fields.price_cents, fields.cantidad_vendida)


def known_sales(count: int, seed: int = 2025) -> list[dict[str, Any]]:
    """Deterministic sales covering every category, names in any case, rounding to cents and ties."""
    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        category = rng.choice(list(PRODUCTS))
        spelled: object = rng.choice([Category[category].value, category, category.upper(), category.lower()])
        bodies.append(
            {
                "categoria": spelled,
                "producto_id": rng.choice(PRODUCTS[category]),
                "precio": round(rng.uniform(0.5, 9000), rng.choice([0, 1, 2, 3])),
                "cantidad_vendida": rng.randint(1, 6),
            }
        )
        if i % 50 == 0:  # a product that only ever ties on units with another one
            bodies.append({"categoria": 3, "producto_id": f"Tie-{i % 100}", "precio": 10.005, "cantidad_vendida": 2})
    return bodies


def post_sales(url: str, bodies: Sequence[dict[str, Any]], concurrency: int = 16, timeout: float = 20) -> list[Outcome]:
    """POST every body to /purchase, ``concurrency`` at a time; outcomes in the order of ``bodies``."""

    async def main() -> list[Outcome]:
        limit = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:

            async def one(body: dict[str, Any]) -> Outcome:
                async with limit:
                    try:
                        response = await client.post("/purchase", json=body)
                    except httpx.HTTPError as exc:
                        return Outcome(body, 0, {"error": str(exc)})
                    return Outcome(body, response.status_code, response.json())

            return list(await asyncio.gather(*(one(b) for b in bodies)))

    return asyncio.run(main())


def post_one(url: str, body: dict[str, Any], timeout: float = 20) -> Outcome:
    return post_sales(url, [body], 1, timeout)[0]


class HasValkey(Protocol):
    """Where a pipeline's Valkey is and how its users log in (a Pipeline)."""

    valkey_addr: str

    def valkey_login(self, user: str = "reader") -> Login: ...


def report_now(where: HasValkey, focus: str = "Belleza") -> dict[str, Any]:
    """The report, read as the read-only reader (as bf-report and Grafana read)."""
    with connect_as(where.valkey_addr, where.valkey_login("reader")) as client:
        return build_report(read_figures(client, Category[focus]))


def wait_total(where: HasValkey, total: int, timeout: float = 60, focus: str = "Belleza") -> dict[str, Any]:
    """Wait until the report counts ``total`` sales (never more); return it."""
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(report_now(where, focus))
        return int(seen["total_sales"]) >= total

    if not wait_for(reached, timeout, interval=0.2):
        raise AssertionError(f"the consumer counted {seen.get('total_sales')} of {total} sales in {timeout}s")
    return seen


def make_report(where: HasValkey, focus: str = "Belleza") -> dict[str, Any]:
    """What `make report` prints for this Valkey (it runs the same bf-report module, as the reader)."""
    env = {**os.environ, "VALKEY_ADDR": where.valkey_addr, "FOCUS_CATEGORY": focus, **where.valkey_login().env()}
    done = subprocess.run(
        [sys.executable, "-m", "blackfriday.report"], env=env, capture_output=True, text=True, timeout=30, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def tracked_prices(outcomes: Sequence[Outcome], product: str) -> list[int]:
    """The tracked product's prices in Kafka order (one product is one key, so one partition)."""
    mine = [o for o in outcomes if o.stored and o.line().product == product]
    assert len({o.answer["partition"] for o in mine}) <= 1
    return [o.line().cents for o in sorted(mine, key=lambda o: int(o.answer["offset"]))]


def metric(url: str, name: str) -> float:
    """The value of one sample of a service's /metrics, labels included in ``name`` (0 when absent)."""
    text = httpx.get(url, timeout=5).text
    for line in text.splitlines():
        if line.split(" ", 1)[0] == name:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def sale_ids_in_kafka(kafka: Mapping[str, Any], topic: str, partitions: int) -> list[str]:
    """The id of every sale on the topic, from its first record to its end (a list: a copy would show).
    ``kafka``: the client's bootstrap_servers and login (``KafkaBroker.client_config()``)."""
    consumer = KafkaConsumer(**kafka, enable_auto_commit=False)
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        ends = consumer.end_offsets(assigned)
        ids: list[str] = []
        while any(consumer.position(tp) < ends[tp] for tp in assigned):
            for batch in consumer.poll(timeout_ms=1000).values():
                ids += [sale_from_json(record.value).id for record in batch]
    finally:
        consumer.close()
    return ids


def assert_each_stored_sale_counted_once(
    client: valkey.Valkey, pipeline: Any, outcomes: Sequence[Outcome], partitions: int
) -> None:
    """Every 201 is in Kafka once, nothing is there that was not sent, and the consumer counted every record
    of the topic, each once: a 503 may or may not have landed."""
    stored = {o.answer["id"] for o in outcomes if o.stored}
    maybe = {o.answer["id"] for o in outcomes if o.status == 503}
    in_kafka = sale_ids_in_kafka(pipeline.kafka_config(), pipeline.topic, partitions)
    assert len(in_kafka) == len(set(in_kafka)), "a sale was written to Kafka twice"
    assert stored <= set(in_kafka)
    assert set(in_kafka) <= stored | maybe
    report = wait_total(pipeline, len(in_kafka))
    assert report["total_sales"] == len(in_kafka) == report_now(pipeline)["total_sales"]
    ends = {
        f"{pipeline.topic}/{p}": n - 1
        for p, n in enumerate(partition_ends(pipeline.kafka_config(), pipeline.topic, partitions))
        if n
    }
    applied = {k.decode(): int(v) for k, v in cast(dict[bytes, bytes], client.hgetall(keys.APPLIED_OFFSETS)).items()}
    assert applied == ends


def partition_ends(kafka: Mapping[str, Any], topic: str, partitions: int) -> list[int]:
    """Each partition's end offset."""
    consumer = KafkaConsumer(**kafka)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        consumer.close()
    return [ends[TopicPartition(topic, p)] for p in range(partitions)]


def topic_size(kafka: Mapping[str, Any], topic: str, partitions: int) -> int:
    """How many records the topic holds (the sum of its partitions' end offsets)."""
    return sum(partition_ends(kafka, topic, partitions))


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    if not wait_for(condition, timeout, interval=0.2):
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
