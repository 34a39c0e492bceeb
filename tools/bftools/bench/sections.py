"""The rows of `make bench`, section by section. Each returns its rows; the report lays them out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from bftools.bench.measure import WRK_SCRIPT, Sampler, Usage, counter, run_wrk, scrape, stage_means
from bftools.bench.rig import Rig, services, wait_counted
from bftools.runtime.paths import KAFKA_LIB, ROOT, java
from bftools.runtime.ports import free_port
from bftools.runtime.process import wait_for
from bftools.stack.services import Pipeline, http_ok
from blackfriday.consumer.store import Store, StoreOptions
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.sale import Category, Sale

SERVICES = ("api", "bridge", "writer", "consumer")
#: The api's count of sales it answered 201 (stored) to.
STORED_201 = {"route": "/purchase", "code": "201"}


@dataclass
class Row:
    section: str
    name: str
    sales_per_s: float
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    #: % of one core per process, over the row
    cpu: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)
    #: every stored sale counted once in Valkey (None: not checked)
    exactly_once: bool | None = None
    note: str = ""
    #: the pipeline's own view of the row: mean batch sizes and the round trips they waited for (ms)
    stages: dict[str, float] = field(default_factory=dict)


@dataclass
class Options:
    seconds: float = 10.0
    levels: tuple[int, ...] = (16, 64, 256)
    drain_sales: int = 200_000
    flash_seconds: float = 60.0
    flash_users: int = 100
    kafka_records: int = 200_000
    profile: bool = True


def _usage(usage: dict[str, Usage], seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    cpu = {name: round(100 * u.cpu_seconds / seconds, 1) for name, u in usage.items()}
    rss = {name: round(u.peak_rss_mb, 1) for name, u in usage.items() if u.peak_rss_mb}
    return cpu, rss


def _pids(pipeline: Pipeline, rig: Rig) -> dict[str, int]:
    pids = {name: proc.pid for name, proc in pipeline.procs.items()}
    assert rig.kafka.proc is not None
    assert rig.valkey.proc is not None
    pids.update(kafka=rig.kafka.proc.pid, valkey=rig.valkey.proc.pid)
    return pids


def wrk_script(home: Path) -> Path:
    path = home / "sales.lua"
    path.write_text(WRK_SCRIPT)
    return path


def _load_row(
    section: str,
    name: str,
    url: str,
    connections: int,
    seconds: float,
    pids: dict[str, int],
    script: Path,
    during: Callable[[], None] | None = None,
) -> Row:
    sampler = Sampler(pids).start()
    if during is not None:
        during()
    result = run_wrk(url, connections, seconds, script, sampler)
    usage = sampler.stop()
    cpu, rss = _usage(usage, sampler.seconds)
    return Row(
        section,
        name,
        result.rate,
        result.p50_ms,
        result.p95_ms,
        result.p99_ms,
        result.non_2xx + result.socket_errors,
        cpu,
        rss,
        note=f"{result.successes} sales",
    )


def ingest(rig: Rig, options: Options, server: str, profile_dir: Path | None) -> list[Row]:
    """The product end to end (201 only after acks=all), at each concurrency level."""
    rows = []
    pipeline = rig.pipeline(rig.topic(), {name: {"HTTP_SERVER": server} for name in ("api", "bridge")})
    script = wrk_script(rig.home)
    with services(pipeline, list(SERVICES)):
        # Exactly once, judged by the api's own count of 201s: wrk leaves out the requests still in flight when
        # it stops, which the api stored and answered all the same.
        base = rig.counted()

        def acknowledged() -> int:
            return base + int(counter(f"{pipeline.api_url}/metrics", "bf_http_requests_total", STORED_201))

        def idle() -> bool:
            return counter(f"{pipeline.api_url}/metrics", "bf_api_sales_in_flight", {}) == 0

        run_wrk(pipeline.api_url, 16, 2, script)  # warm-up: connections, the broker's JIT, metadata
        wait_counted(rig, acknowledged(), 60)
        for level in options.levels:
            profile = None
            if profile_dir is not None and level == 64:
                profile = _py_spy(pipeline.procs["api"].pid, options.seconds, profile_dir / f"api-{server}.txt")
            metrics = (f"{pipeline.api_url}/metrics", pipeline.writer_metrics_url)
            scraped = [scrape(url) for url in metrics]
            row = _load_row(
                f"ingest ({server})",
                f"{level} connections",
                pipeline.api_url,
                level,
                options.seconds,
                _pids(pipeline, rig),
                script,
            )
            row.stages = stage_means(
                {k: v for found in scraped for k, v in found.items()},
                {k: v for url in metrics for k, v in scrape(url).items()},
            )
            # the sales still in the api when wrk stopped: forwarded and answered (or not) before counting
            if not wait_for(idle, 30):
                raise RuntimeError("the api still had sales in flight 30 s after the load stopped")
            stored = _settled(acknowledged)
            row.exactly_once = wait_counted(rig, stored, 120) and rig.counted() == stored
            row.note += (
                f" answered to wrk; so far the api stored {stored - base}, Valkey counted {rig.counted() - base}"
            )
            if profile is not None:
                profile.wait(60)
            rows.append(row)
    return rows


def _settled(read: Callable[[], int], timeout: float = 15.0) -> int:
    """A count once it stops moving (with no sale in flight, only the last answers are still being written)."""
    last = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = read()
        if now == last:
            return now
        last = now
    return last


def _py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on the api for most of the row: the flat profile (function, % of samples) for the report."""
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(2, int(seconds) - 2)),
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bare(rig: Rig, options: Options, server: str) -> list[Row]:
    """Baseline (a): the bare HTTP server parsing the same JSON and answering 201."""
    port = free_port()
    proc = rig.module(f"bare-{server}", f"bftools.bench.bare {port} {server}", {})
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_ok(f"{url}/nope") or _answers(url), 30)
    script = wrk_script(rig.home)
    rows = [
        _load_row(
            f"baseline (a) bare {server}",
            f"{level} connections",
            url,
            level,
            options.seconds,
            {"server": proc.pid},
            script,
        )
        for level in options.levels
    ]
    rig.stop_extra()
    return rows


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{url}/purchase", timeout=1)  # noqa: S310 - a local http:// URL
    except urllib.error.HTTPError:
        return True  # 405: it serves
    except OSError:
        return False
    return True


def seed_chain(rig: Rig, options: Options) -> list[Row]:
    """Baseline (b): one sale per request per hop, a synchronous producer per call, a dozen round trips."""
    topic = rig.topic()
    pipeline = rig.pipeline(topic, {"api": {"FORWARD_BATCH_MAX": "1", "FORWARD_CONCURRENCY": "64"}})
    env = {"KAFKA_BROKERS": rig.kafka.bootstrap, "KAFKA_TOPIC": topic, "LISTEN_PORT": str(pipeline.writer_port)}
    writer = rig.module("seed-writer", "bftools.bench.seedstyle writer", env)
    consumer = rig.module(
        "seed-consumer",
        "bftools.bench.seedstyle consumer",
        {**env, "KAFKA_GROUP": f"seed-{topic}", "VALKEY_ADDR": rig.valkey.addr},
    )
    script = wrk_script(rig.home)
    with services(pipeline, ["bridge", "api"]):
        pids = {**_pids(pipeline, rig), "writer": writer.pid, "consumer": consumer.pid}
        row = _load_row(
            "baseline (b) seed-style chain", "64 connections", pipeline.api_url, 64, options.seconds, pids, script
        )
    rig.stop_extra()
    return [row]


def writer_replicas(rig: Rig, options: Options) -> list[Row]:
    """The seed's comparison: two writers behind the bridge (its channel balances over both)."""
    topic = rig.topic()
    second_port, second_metrics = free_port(), free_port()
    pipeline = rig.pipeline(topic)
    pipeline.extra_env["bridge"] = {
        **pipeline.extra_env.get("bridge", {}),
        "GRPC_HOST": f"ipv4:127.0.0.1:{pipeline.writer_port},127.0.0.1:{second_port}",
    }
    env = {
        "LISTEN_HOST": "127.0.0.1",
        "LISTEN_PORT": str(second_port),
        "METRICS_PORT": str(second_metrics),
        "KAFKA_BROKERS": rig.kafka.bootstrap,
        "KAFKA_TOPIC": topic,
        "LOG_LEVEL": "WARNING",
    }
    second = rig.module("writer-2", "blackfriday.writer.main", env, f"http://127.0.0.1:{second_metrics}/readyz")
    script = wrk_script(rig.home)
    with services(pipeline, list(SERVICES)):
        pids = {**_pids(pipeline, rig), "writer-2": second.pid}
        row = _load_row(
            "comparisons", "2 writers (64 connections)", pipeline.api_url, 64, options.seconds, pids, script
        )
    rig.stop_extra()
    return [row]


def leg(rig: Rig, options: Options) -> list[Row]:
    """The seed's comparison: the bridge -> writer leg over gRPC or HTTP/JSON (batches of 20, 16 at once)."""
    topic = rig.topic()
    pipeline = rig.pipeline(topic)
    http_port = free_port()
    env = {"LISTEN_PORT": str(http_port), "KAFKA_BROKERS": rig.kafka.bootstrap, "KAFKA_TOPIC": topic}
    http_writer = rig.module("http-writer", "bftools.bench.http_writer", env)
    wait_for(lambda: _answers(f"http://127.0.0.1:{http_port}"), 30)
    rows = []
    with services(pipeline, ["writer"]):
        for kind, address, server_pid in (
            ("grpc", f"127.0.0.1:{pipeline.writer_port}", pipeline.procs["writer"].pid),
            ("http", f"127.0.0.1:{http_port}", http_writer.pid),
        ):
            sampler = Sampler({"writer": server_pid}).start()
            argv = [sys.executable, "-m", "bftools.bench.leg", kind, address, str(options.seconds), "16", "20"]
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env={**os.environ})
            sampler.add("client", process.pid)
            out, _ = process.communicate(timeout=options.seconds + 60)
            usage = sampler.stop()
            result = json.loads(out.strip().splitlines()[-1])
            cpu, rss = _usage(usage, sampler.seconds)
            rows.append(
                Row(
                    "comparisons",
                    f"bridge -> writer over {'gRPC' if kind == 'grpc' else 'HTTP/JSON'} (batches of 20)",
                    result["sales_per_s"],
                    result["p50_ms"],
                    None,
                    result["p99_ms"],
                    int(result["errors"]),
                    cpu,
                    rss,
                )
            )
    rig.stop_extra()
    return rows


def kafka_tool(rig: Rig, options: Options) -> list[Row]:
    """Baseline (c) and the producer comparisons: Kafka's own producer tool on this machine."""
    topic = rig.topic()
    rows = []
    for acks, linger in (("all", 0), ("all", 5), ("1", 0)):
        argv = [
            java(),
            "-Xmx256m",
            "-cp",
            str(KAFKA_LIB / "*"),
            f"-Dlog4j2.configurationFile={rig.kafka.home / 'log4j2.properties'}",
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic",
            topic,
            "--num-records",
            str(options.kafka_records),
            "--record-size",
            "150",
            "--throughput",
            "-1",
            "--producer-props",
            f"bootstrap.servers={rig.kafka.bootstrap}",
            f"acks={acks}",
            f"linger.ms={linger}",
        ]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False).stdout
        line = next((line for line in out.splitlines() if "records/sec" in line and "99th" in line), "")
        if not line:
            raise RuntimeError(f"ProducerPerformance printed no result: {out[-500:]}")
        rate = float(line.split(" records sent, ")[1].split(" records/sec")[0])
        p50 = float(line.split(" ms 50th")[0].rsplit(", ", 1)[1])
        p99 = float(line.split(" ms 99th")[0].rsplit(", ", 1)[1])
        rows.append(Row("baseline (c) Kafka's producer tool", f"acks={acks}, linger.ms={linger}", rate, p50, None, p99))
    return rows


def prefill(rig: Rig, count: int, partitions: int) -> str:
    """A topic holding ``count`` sales, each with an id of its own."""
    topic = rig.topic(partitions)
    producer = KafkaProducer(bootstrap_servers=rig.kafka.bootstrap, acks=1, linger_ms=20, batch_size=262_144)
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
    cpu, rss = _usage(usage, sampler.seconds)
    del started
    return Row(
        "consumer drain",
        label,
        (counted - first) / elapsed if elapsed else 0.0,
        cpu=cpu,
        rss_mb=rss,
        exactly_once=done and counted == count,
        note=f"{counted} of {count} counted",
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
    env = {
        "KAFKA_BROKERS": rig.kafka.bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP": f"seed-drain-{topic}",
        "VALKEY_ADDR": rig.valkey.addr,
    }
    proc = rig.module("seed-consumer", "bftools.bench.seedstyle consumer", env)
    wait_for(lambda: rig.counted() > 0, 60, interval=0.05)
    first, first_at = rig.counted(), time.monotonic()
    assert rig.valkey.proc is not None
    sampler = Sampler({"seed-consumer": proc.pid, "valkey": rig.valkey.proc.pid}).start()
    time.sleep(options.seconds)  # a fixed window of its work: the rate is what matters
    counted, elapsed = rig.counted(), time.monotonic() - first_at
    usage = sampler.stop()
    rig.stop_extra()
    cpu, rss = _usage(usage, sampler.seconds)
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
        store = Store(client, StoreOptions(dedup_ttl_seconds=86_400, price_history_cap=1000, throughput_cap=3600))
        assert rig.valkey.proc is not None
        sampler = Sampler({"bench": os.getpid(), "valkey": rig.valkey.proc.pid}).start()
        started = time.monotonic()
        for i in range(0, count, 500):
            store.apply(sales[i : i + 500])
        elapsed = time.monotonic() - started
        usage = sampler.stop()
    cpu, rss = _usage(usage, sampler.seconds)
    return Row(
        "consumer drain",
        "the store's limit: the Lua script with no Kafka (batches of 500)",
        count / elapsed,
        cpu=cpu,
        rss_mb=rss,
        exactly_once=rig.counted() == count,
    )


def flash_sale(rig: Rig, options: Options, results: Path) -> list[Row]:
    """Locust's flash-sale shape on the product: each phase's latency, no errors expected."""
    pipeline = rig.pipeline(rig.topic())
    out = results / "flashsale.json"
    with services(pipeline, list(SERVICES)), tempfile.TemporaryDirectory() as tmp:
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "apps" / "blackfriday" / "loadgen" / "flashsale.py"),
            "--headless",
            "--host",
            pipeline.api_url,
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--json-file",
            str(Path(tmp) / "stats"),
        ]
        env = {
            **os.environ,
            "BF_FLASH_USERS": str(options.flash_users),
            "BF_FLASH_SECONDS": str(options.flash_seconds),
            "BF_FLASH_RESULTS": str(out),
        }
        sampler = Sampler(_pids(pipeline, rig)).start()
        subprocess.run(argv, env=env, capture_output=True, timeout=options.flash_seconds + 120, check=False)
        usage = sampler.stop()
    cpu, rss = _usage(usage, sampler.seconds)
    phases: dict[str, Any] = json.loads(out.read_text())["phases"]
    seconds = options.flash_seconds
    shares = {"warm-up": 0.20, "base": 0.20, "spike": 0.25, "plateau": 0.20, "cool-down": 0.15}
    return [
        Row(
            "flash sale (Locust shape)",
            f"{name} ({'5x ' if name in ('spike', 'plateau') else ''}{options.flash_users} users)",
            phase["requests"] / (shares[name] * seconds),
            phase["p50_ms"],
            phase["p95_ms"],
            phase["p99_ms"],
            phase["failures"],
            cpu if name == "spike" else {},
            rss if name == "spike" else {},
        )
        for name, phase in phases.items()
    ]


def flat_profile(raw: Path, top: int = 12) -> list[tuple[str, float]]:
    """Where the api's CPU goes, by layer, from py-spy's raw samples."""
    groups: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        groups[_layer(stack)] = groups.get(_layer(stack), 0) + samples
    ordered = sorted(groups.items(), key=lambda item: -item[1])[:top]
    return [(name, 100 * samples / total) for name, samples in ordered] if total else []


def _layer(stack: str) -> str:
    if "purchase (blackfriday/api/app.py" in stack:
        for marker, name in (
            ("read_body", "the sale: reading the body"),
            ("loads_strict", "the sale: JSON parsing"),
            ("validate_purchase", "the sale: validation"),
            ("new_sale_id", "the sale: its id"),
            ("send_json", "the answer (through the server)"),
            ("forward (", "the sale: handing it to the forwarder"),
        ):
            if marker in stack:
                return name
        return "the sale: the rest of the handler"
    if "Forwarder" in stack or "bridge_client" in stack:
        return "forwarding batches to the bridge"
    if "HttpMetrics" in stack:
        return "request metrics"
    if "/h11/" in stack or "h11." in stack:
        return "Hypercorn: HTTP/1.1 parsing (h11)"
    if "hypercorn" in stack:
        return "Hypercorn: the rest"
    if "granian" in stack:
        return "Granian"
    if "starlette" in stack:
        return "Starlette"
    return "event loop and the rest"


def peak_memory(rows: Sequence[Row]) -> dict[str, float]:
    """Each process's highest RSS over the rows."""
    peaks: dict[str, float] = {}
    for row in rows:
        for name, rss in row.rss_mb.items():
            peaks[name] = max(peaks.get(name, 0.0), rss)
    return peaks
