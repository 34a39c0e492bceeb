"""The soak run: a long Black Friday in a few minutes, to see what grows with the sale.

On its own Kafka and Valkey (127.0.0.1, free ports): Kafka's producer tool fills the topic with
``sales`` sales (the writer's JSON, products of the built-in catalog); then the four services start, the
consumer drains the topic while wrk sends sales through api -> bridge -> writer at the same time, and every
``interval`` seconds a sample is taken: sales counted, Valkey's used memory, and each process's RSS. The run
ends when every record of the topic is counted (exactly once: the count equals the records), or fails past
its time budget.

Verdict (after warm-up, the first ``warmup`` of the sales): the store grows by less than 1 MiB per million
sales, and no service's RSS by more than 10 %.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final, cast

from kafka import KafkaConsumer, TopicPartition

from bftools.bench.measure import WRK_SCRIPT, WrkResult, rss_mb, run_wrk
from bftools.bench.rig import Rig, services
from bftools.runtime.paths import KAFKA_LIB, java
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.loadgen.catalog import load_catalog
from blackfriday.sale import Sale, validate_purchase

Say = Callable[[str], None]
SERVICES: Final = ("api", "bridge", "writer", "consumer")
#: Growth allowed after warm-up.
STORE_MIB_PER_MILLION: Final = 1.0
RSS_GROWTH: Final = 0.10


@dataclass(frozen=True)
class Plan:
    sales: int = 5_000_000  # filled into the topic by Kafka's producer tool
    warmup: float = 0.1  # the share of the sales after which growth is measured
    interval: float = 5.0  # seconds between samples
    wrk_connections: int = 2  # the pipeline's own load beside the drain
    budget: float = 1500.0  # seconds: past it the run stops and fails


@dataclass(frozen=True)
class Sample:
    t: float
    counted: int
    in_kafka: int
    store_mib: float  # Valkey's used_memory
    valkey_rss_mib: float
    api_rss_mib: float
    bridge_rss_mib: float
    writer_rss_mib: float
    consumer_rss_mib: float


COLUMNS: Final = [f.name for f in fields(Sample)]


@dataclass(frozen=True)
class Verdict:
    samples: list[Sample]
    warm: Sample
    end: Sample
    exactly_once: bool
    pipeline: WrkResult | None
    fill_seconds: float
    fill_rate: float

    @property
    def store_mib_per_million(self) -> float:
        sales = (self.end.counted - self.warm.counted) / 1e6
        return (self.end.store_mib - self.warm.store_mib) / sales if sales > 0 else 0.0

    def rss_growth(self, name: str) -> float:
        before = float(getattr(self.warm, f"{name}_rss_mib"))
        return (float(getattr(self.end, f"{name}_rss_mib")) - before) / before if before else 0.0

    @property
    def ok(self) -> bool:
        return (
            self.exactly_once
            and self.store_mib_per_million < STORE_MIB_PER_MILLION
            and all(self.rss_growth(name) <= RSS_GROWTH for name in SERVICES)
        )


def payloads(path: Path, count: int, seed: int = 5) -> Path:
    """``count`` distinct sales in the writer's JSON, one per line (the producer tool picks among them)."""
    rng = random.Random(seed)  # noqa: S311 - load, not security
    catalog = load_catalog()
    start = now_ms()
    with path.open("w") as out:
        for i in range(count):
            fields_ = validate_purchase(catalog.sample(rng))
            out.write(Sale.accept(fields_, new_sale_id(start + i), start).to_json().decode() + "\n")
    return path


def fill(rig: Rig, topic: str, sales: int, say: Say) -> tuple[float, float]:
    """The topic filled with ``sales`` records by Kafka's producer tool; (seconds, records/s)."""
    with tempfile.TemporaryDirectory(prefix="bf-soak-") as tmp:
        lines = payloads(Path(tmp) / "sales.jsonl", 10_000)
        argv = [
            java(), "-Xmx512m", "-cp", str(KAFKA_LIB / "*"),
            f"-Dlog4j2.configurationFile={rig.kafka.home / 'log4j2.properties'}",
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic", topic, "--num-records", str(sales), "--payload-file", str(lines), "--throughput", "-1",
            "--producer.config", str(rig.kafka.java_client_properties("writer")),  # SASL_SSL as the writer
            "--producer-props", f"bootstrap.servers={rig.kafka.bootstrap}", "acks=1", "linger.ms=20",
            "batch.size=262144",
        ]  # fmt: skip
        say(f"soak: filling the topic with {sales:,} sales (Kafka's producer tool) ...")
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=1200, check=False)
        seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"the producer tool failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return seconds, sales / seconds


def records(kafka: Mapping[str, Any], topic: str, partitions: int) -> int:
    """The records the topic holds; ``kafka``: bootstrap_servers and the login (the admin's)."""
    consumer = KafkaConsumer(**kafka)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        consumer.close()
    return sum(ends.values())


def run(plan: Plan, home: Path, say: Say) -> Verdict:
    rig = Rig(home).start()
    try:
        topic = rig.topic()
        fill_seconds, fill_rate = fill(rig, topic, plan.sales, say)
        say(f"soak: filled in {fill_seconds:.0f}s ({fill_rate:,.0f}/s); starting the four services ...")
        pipeline = rig.pipeline(topic)
        with services(pipeline, list(SERVICES)):
            return _drain(plan, rig, pipeline.api_url, topic, {n: p.pid for n, p in pipeline.procs.items()}, say,
                          (fill_seconds, fill_rate))  # fmt: skip
    finally:
        rig.stop()


def _drain(
    plan: Plan, rig: Rig, api_url: str, topic: str, pids: dict[str, int], say: Say, filled: tuple[float, float]
) -> Verdict:
    assert rig.valkey.proc is not None
    pids = {**pids, "valkey": rig.valkey.proc.pid}
    started = time.monotonic()
    pipeline_seconds = max(30.0, plan.sales / 20_000)
    pipeline: list[WrkResult] = []
    wrk = threading.Thread(
        target=lambda: pipeline.append(run_wrk(f"{api_url}/purchase", plan.wrk_connections, pipeline_seconds,
                                               _script())),
        daemon=True,
    )  # fmt: skip
    wrk.start()
    samples: list[Sample] = []
    with rig.client() as client:
        while True:
            in_kafka = records(rig.kafka.client_config(), topic, 3)
            memory = cast(dict[str, int], client.info("memory"))
            counted = int(cast(bytes | None, client.get("bf:sales:total")) or 0)
            sample = Sample(
                round(time.monotonic() - started, 1),
                counted,
                in_kafka,
                round(memory["used_memory"] / 2**20, 3),
                *(round(rss_mb(pids[name]), 1) for name in ("valkey", *SERVICES)),
            )
            samples.append(sample)
            say(
                f"soak: t={sample.t:5.0f}s counted {counted:>9,} of {in_kafka:>9,}, store {sample.store_mib:.2f} MiB, "
                f"RSS MiB api {sample.api_rss_mib:.0f} bridge {sample.bridge_rss_mib:.0f} writer "
                f"{sample.writer_rss_mib:.0f} consumer {sample.consumer_rss_mib:.0f} valkey {sample.valkey_rss_mib:.0f}"
            )
            if not wrk.is_alive() and counted >= in_kafka:
                break
            if time.monotonic() - started > plan.budget:
                raise RuntimeError(f"not every sale counted within {plan.budget:.0f}s ({counted:,} of {in_kafka:,})")
            time.sleep(plan.interval)  # a sampling period, not a wait for a state
    wrk.join()
    warm = next(s for s in samples if s.counted >= plan.warmup * samples[-1].counted)
    end = samples[-1]
    return Verdict(samples, warm, end, end.counted == end.in_kafka, pipeline[0] if pipeline else None, *filled)


def _script() -> Path:
    path = Path(tempfile.mkdtemp(prefix="bf-soak-wrk-")) / "sale.lua"
    path.write_text(WRK_SCRIPT)
    return path


def write_csv(samples: Sequence[Sample], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for sample in samples:
            writer.writerow(asdict(sample))
    return path


def plot(verdict: Verdict, path: Path) -> Path:
    """The store's memory (top) and each process's RSS (bottom) against the sales counted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = verdict.samples
    x = [s.counted / 1e6 for s in samples]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    top.plot(x, [s.store_mib for s in samples], color="#c0392b", lw=2, label="Valkey used_memory")
    top.axvline(verdict.warm.counted / 1e6, color="#888", ls=":", lw=1, label="end of warm-up")
    top.set_ylabel("MiB")
    top.set_ylim(0, max(s.store_mib for s in samples) * 1.3 + 0.5)
    top.set_title(
        f"make soak: {verdict.end.counted:,} sales counted; the store grew "
        f"{verdict.store_mib_per_million:.3f} MiB per million after warm-up",
        fontsize=10,
    )
    for name, color in (("api", "#1f5fa8"), ("bridge", "#27ae60"), ("writer", "#7d3c98"), ("consumer", "#e67e22"),
                        ("valkey", "#c0392b")):  # fmt: skip
        bottom.plot(x, [getattr(s, f"{name}_rss_mib") for s in samples], color=color, lw=1.5, label=name)
    bottom.set_ylabel("RSS, MiB")
    bottom.set_xlabel("sales counted (millions)")
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def table(verdict: Verdict, plan: Plan) -> str:
    warm, end = verdict.warm, verdict.end
    lines = [
        "| | at the end of warm-up | at the end | growth | limit |",
        "|---|---:|---:|---:|---|",
        f"| sales counted | {warm.counted:,} | {end.counted:,} | | |",
        f"| Valkey used_memory | {warm.store_mib:.2f} MiB | {end.store_mib:.2f} MiB | "
        f"{verdict.store_mib_per_million:.3f} MiB per million sales | < {STORE_MIB_PER_MILLION:g} MiB per million |",
    ]
    for name in (*SERVICES, "valkey"):
        before, after = getattr(warm, f"{name}_rss_mib"), getattr(end, f"{name}_rss_mib")
        growth = (after - before) / before if before else 0.0
        limit = f"≤ {RSS_GROWTH:.0%}" if name in SERVICES else "—"
        lines.append(f"| {name} RSS | {before:.0f} MiB | {after:.0f} MiB | {growth:+.1%} | {limit} |")
    pipeline = verdict.pipeline
    through = (
        f"{pipeline.requests:,} sales through api -> bridge -> writer (wrk, {plan.wrk_connections} connections) "
        if pipeline
        else ""
    )
    verdict_line = "holds" if verdict.ok else "FAILS"
    return "\n".join(
        [
            *lines,
            "",
            f"{plan.sales:,} sales filled by Kafka's producer tool in {verdict.fill_seconds:.0f} s "
            f"({verdict.fill_rate:,.0f}/s), {through}beside the drain; {end.counted:,} of {end.in_kafka:,} records "
            f"counted ({'each once' if verdict.exactly_once else 'NOT each once'}) in {end.t:.0f} s; warm-up: the "
            f"first {plan.warmup:.0%} of the sales. Verdict: {verdict_line}.",
        ]
    )


def summary_json(verdict: Verdict) -> str:
    return json.dumps(
        {
            "counted": verdict.end.counted,
            "store_mib_per_million": round(verdict.store_mib_per_million, 4),
            "rss_growth": {name: round(verdict.rss_growth(name), 4) for name in SERVICES},
            "exactly_once": verdict.exactly_once,
            "ok": verdict.ok,
        }
    )
