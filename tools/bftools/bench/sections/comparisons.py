"""The seed's comparisons (`--only comparisons`): the bridge -> writer leg over gRPC and HTTP/JSON, two writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bftools.bench.measure import Sampler
from bftools.bench.rig import Rig, services
from bftools.bench.rows import Options, Row
from bftools.bench.sections.common import SERVICES, answers, cpu_and_memory, load_row, pipeline_pids, wrk_script
from bftools.runtime.ports import free_port
from bftools.runtime.process import wait_for


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
        **rig.kafka_env("writer", topic),
        "LOG_LEVEL": "WARNING",
    }
    second = rig.module("writer-2", "blackfriday.writer.main", env, f"http://127.0.0.1:{second_metrics}/readyz")
    script = wrk_script(rig.home)
    with services(pipeline, list(SERVICES)):
        pids = {**pipeline_pids(pipeline, rig), "writer-2": second.pid}
        row = load_row("comparisons", "2 writers (64 connections)", pipeline.api_url, 64, options.seconds, pids, script)
    rig.stop_extra()
    return [row]


def leg(rig: Rig, options: Options) -> list[Row]:
    """The seed's comparison: the bridge -> writer leg over gRPC or HTTP/JSON (batches of 20, 16 at once)."""
    topic = rig.topic()
    pipeline = rig.pipeline(topic)
    http_port = free_port()
    env = {"LISTEN_PORT": str(http_port), **rig.kafka_env("writer", topic)}
    http_writer = rig.module("http-writer", "bftools.bench.http_writer", env)
    wait_for(lambda: answers(f"http://127.0.0.1:{http_port}"), 30)
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
            cpu, rss = cpu_and_memory(usage, sampler.seconds)
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
