"""The consumer draining a pre-filled topic into Valkey (`--only drain`): the product's settings, partitions,
consumers, a replica, AOF, the seed-style consumer and the store's own limit."""

from __future__ import annotations

import os
import time

from kafka import KafkaProducer

from bftools.bench.measure import Sampler
from bftools.bench.rig import Rig, services
from bftools.bench.rows import Options, Row
from bftools.bench.sections.common import cpu_and_memory
from bftools.runtime.process import wait_for
from blackfriday.consumer.store import PartitionBatch, Record, Store, StoreOptions
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.sale import Category, Sale


def prefill(rig: Rig, count: int, partitions: int) -> str:
    """A topic holding ``count`` sales, each with an id of its own."""
    topic = rig.topic(partitions)
    producer = KafkaProducer(**rig.kafka.client_config("writer"), acks=1, linger_ms=20, batch_size=262_144)
    start = now_ms()
    for i in range(count):
        sale = Sale(
            new_sale_id(start + i // 1000), start, Category(1 + i % 4), f"P-{i % 500}", 100 + i % 90_000, 1 + i % 5
        )
        producer.send(topic, key=sale.producto_id.encode(), value=sale.to_json())
    producer.flush(120)
    producer.close()
    return topic


def _drain(rig: Rig, topic: str, count: int, consumers: int, label: str, env: dict[str, str] | None = None) -> Row:
    rig.flush()
    pipeline = rig.pipeline(topic, {"consumer": env or {}})
    names = ["consumer"] + [f"consumer-{i + 2}" for i in range(consumers - 1)]
    started = time.monotonic()
    with services(pipeline, names):
        pids = {name: proc.pid for name, proc in pipeline.procs.items()}
        assert rig.valkey.proc is not None
        pids["valkey"] = rig.valkey.proc.pid
        sampler = Sampler(pids).start()
        if not wait_for(lambda: rig.counted() > 0, 60, interval=0.05):
            raise RuntimeError(f"{label}: nothing counted within 60 s; see {rig.home / 'logs'}")
        first, first_at = rig.counted(), time.monotonic()
        done = wait_for(lambda: rig.counted() >= count, 600, interval=0.1)
        elapsed = time.monotonic() - first_at
        usage = sampler.stop()
    counted = rig.counted()
    cpu, rss = cpu_and_memory(usage, sampler.seconds)
    note = f"{counted} of {count} counted"
    if counted > first and elapsed > 0:
        rate = (counted - first) / elapsed
    else:  # all counted before the first sample (a small --quick topic): a lower bound, start-up included
        rate = counted / (first_at - started)
        note += "; all before the first sample: a lower bound, start-up included"
    return Row(
        "consumer drain",
        label,
        rate,
        cpu=cpu,
        rss_mb=rss,
        exactly_once=done and counted == count,
        note=note,
    )


def drain(rig: Rig, options: Options) -> list[Row]:
    """From a pre-filled topic into Valkey, every aggregate, exactly once; and the seed's comparisons."""
    count = options.drain_sales
    three = prefill(rig, count, 3)
    rows = [_drain(rig, three, count, 1, "1 consumer, 3 partitions, AOF always (the product)")]
    rows.append(_drain(rig, three, count, 2, "2 consumers, 3 partitions"))
    one = prefill(rig, count, 1)
    rows.append(_drain(rig, one, count, 1, "1 consumer, 1 partition"))
    rows.append(_drain(rig, one, count, 2, "2 consumers, 1 partition (one idles)"))
    replica = rig.add_replica()
    rows.append(_drain(rig, three, count, 1, "with a Valkey replica attached"))
    replica.stop(10)
    rig.extra.remove(replica)
    for fsync in ("everysec", None):
        rig.restart_valkey(fsync)
        rows.append(_drain(rig, three, count, 1, f"AOF {fsync}" if fsync else "AOF off"))
    rig.restart_valkey("always")
    rows.append(_seed_drain(rig, three, options))
    rows.append(_store_limit(rig, min(count, 100_000)))
    return rows


def _seed_drain(rig: Rig, topic: str, options: Options) -> Row:
    """The seed-style consumer (a dozen round trips per sale) over a fixed window: its rate."""
    rig.flush()
    group = f"seed-drain-{topic}"
    env = {**rig.kafka_env("consumer", topic, group), "KAFKA_GROUP": group, **rig.valkey_env()}
    proc = rig.module("seed-consumer", "bftools.bench.seedstyle consumer", env)
    wait_for(lambda: rig.counted() > 0, 60, interval=0.05)
    first, first_at = rig.counted(), time.monotonic()
    assert rig.valkey.proc is not None
    sampler = Sampler({"seed-consumer": proc.pid, "valkey": rig.valkey.proc.pid}).start()
    time.sleep(options.seconds)  # a fixed window of its work: the rate is what matters
    # A window in which the consumer, starved of CPU, counted nothing says nothing of its rate: until it counts.
    wait_for(lambda: rig.counted() > first, 60, interval=0.05)
    counted, elapsed = rig.counted(), time.monotonic() - first_at
    usage = sampler.stop()
    rig.stop_extra()
    cpu, rss = cpu_and_memory(usage, sampler.seconds)
    return Row(
        "consumer drain",
        "seed-style consumer (a dozen round trips per sale)",
        (counted - first) / elapsed,
        cpu=cpu,
        rss_mb=rss,
    )


def _store_limit(rig: Rig, count: int) -> Row:
    """The Lua script applied with no Kafka at all, batches of 500: the store's limit."""
    rig.flush()
    start = now_ms()
    sales = [
        Sale(new_sale_id(start), start, Category(1 + i % 4), f"P-{i % 500}", 100 + i % 90_000, 1 + i % 5)
        for i in range(count)
    ]
    with rig.client() as client:
        store = Store(client, StoreOptions(price_history_cap=1000, throughput_cap=3600))
        assert rig.valkey.proc is not None
        sampler = Sampler({"bench": os.getpid(), "valkey": rig.valkey.proc.pid}).start()
        started = time.monotonic()
        for i in range(0, count, 500):
            chunk = [Record(i + j, sale) for j, sale in enumerate(sales[i : i + 500])]
            store.apply([PartitionBatch("bench/0", i, i + len(chunk) - 1, chunk)])
        elapsed = time.monotonic() - started
        usage = sampler.stop()
    cpu, rss = cpu_and_memory(usage, sampler.seconds)
    return Row(
        "consumer drain",
        "the store's limit: the Lua script with no Kafka (batches of 500)",
        count / elapsed,
        cpu=cpu,
        rss_mb=rss,
        exactly_once=rig.counted() == count,
    )
