"""The seed's baselines (`--only baselines`): (a) the bare HTTP server, (b) the seed-style chain, (c) Kafka's
own producer tool."""

from __future__ import annotations

import subprocess

from bftools.bench.rig import Rig, services
from bftools.bench.rows import Options, Row
from bftools.bench.sections.common import answers, load_row, pipeline_pids, wrk_script
from bftools.runtime.paths import KAFKA_LIB, java
from bftools.runtime.ports import free_port
from bftools.runtime.process import wait_for
from bftools.stack.services import http_ok


def bare(rig: Rig, options: Options, server: str) -> list[Row]:
    """Baseline (a): the bare HTTP server parsing the same JSON and answering 201."""
    port = free_port()
    proc = rig.module(f"bare-{server}", f"bftools.bench.bare {port} {server}", {})
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_ok(f"{url}/nope") or answers(url), 30)
    script = wrk_script(rig.home)
    rows = [
        load_row(
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


def seed_chain(rig: Rig, options: Options) -> list[Row]:
    """Baseline (b): one sale per request per hop, a synchronous producer per call, a dozen round trips."""
    topic = rig.topic()
    pipeline = rig.pipeline(topic, {"api": {"FORWARD_BATCH_MAX": "1", "FORWARD_CONCURRENCY": "64"}})
    env = {**rig.kafka_env("writer", topic), "LISTEN_PORT": str(pipeline.writer_port)}
    writer = rig.module("seed-writer", "bftools.bench.seedstyle writer", env)
    group = f"seed-{topic}"
    consumer = rig.module(
        "seed-consumer",
        "bftools.bench.seedstyle consumer",
        {**rig.kafka_env("consumer", topic, group), "KAFKA_GROUP": group, **rig.valkey_env()},
    )
    script = wrk_script(rig.home)
    with services(pipeline, ["bridge", "api"]):
        pids = {**pipeline_pids(pipeline, rig), "writer": writer.pid, "consumer": consumer.pid}
        row = load_row(
            "baseline (b) seed-style chain", "64 connections", pipeline.api_url, 64, options.seconds, pids, script
        )
    rig.stop_extra()
    return [row]


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
            "--producer.config",
            str(rig.kafka.java_client_properties("writer")),  # SASL_SSL as the writer: the login stays in a file
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
