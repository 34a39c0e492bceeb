"""The local stack behind `make up`, `make down` and `make report`.

State lives in .stack/<name>/ (git-ignored): state.json (what runs, on which ports), logs/, and the
Kafka and Valkey data, which survive `make down` / `make up` like a real deployment's volumes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localstack import paths
from localstack.kafka import KafkaBroker
from localstack.ports import ensure_free, free_port
from localstack.process import Proc
from localstack.services import Pipeline
from localstack.valkey import ValkeyServer

#: Ports a user reaches, each overridable by its variable; the others are picked free at start.
PORT_VARIABLES = {
    "api": ("BF_API_PORT", 8080),
    "valkey": ("BF_VALKEY_PORT", 6379),
    "kafka": ("BF_KAFKA_PORT", 9092),
}
STOP_ORDER = ("api", "bridge", "writer", "consumer", "kafka", "valkey")


class StackError(RuntimeError):
    """A one-line reason the stack cannot do what was asked."""


def _port(environ: Mapping[str, str], service: str) -> int:
    variable, default = PORT_VARIABLES[service]
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StackError(f"{variable}: expected a port number 1-65535, got {raw!r}")
    return int(raw)


@dataclass
class Stack:
    name: str = "local"

    @property
    def home(self) -> Path:
        return paths.STATE / self.name

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    def state(self) -> dict[str, Any] | None:
        try:
            loaded: dict[str, Any] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return loaded

    def procs(self) -> list[Proc]:
        state = self.state() or {}
        return [
            Proc(name=p["name"], pid=p["pid"], log=Path(p["log"]), marker=p["marker"]) for p in state.get("procs", [])
        ]

    def running(self) -> bool:
        return any(proc.alive() for proc in self.procs())

    def _save(self, ports: dict[str, int], procs: list[Proc], focus: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        state = {
            "ports": ports,
            "focus": focus,
            "procs": [{"name": p.name, "pid": p.pid, "log": str(p.log), "marker": p.marker} for p in procs],
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def up(self, environ: Mapping[str, str], fresh: bool = False) -> dict[str, int]:
        """Start Valkey, Kafka (with the topic) and the four services; wait until all are ready."""
        if self.running():
            state = self.state() or {}
            return dict(state.get("ports", {}))
        ports = {service: _port(environ, service) for service in PORT_VARIABLES}
        for service, port in ports.items():
            ensure_free(port, service, PORT_VARIABLES[service][0])
        paths.java()
        paths.kafka_classpath()
        paths.valkey_server()
        if fresh:
            shutil.rmtree(self.home, ignore_errors=True)
        logs = self.home / "logs"
        focus = environ.get("FOCUS_CATEGORY", "").strip() or "Belleza"
        procs: list[Proc] = []
        try:
            valkey = ValkeyServer(self.home / "valkey", ports["valkey"])
            procs.append(valkey.start(logs / "valkey.log"))
            self._save(ports, procs, focus)
            kafka = KafkaBroker(
                self.home / "kafka",
                ports["kafka"],
                free_port(),
                partitions=int(environ.get("BF_KAFKA_PARTITIONS", "3") or 3),
            )
            procs.append(kafka.start(logs / "kafka.log"))
            self._save(ports, procs, focus)
            kafka.create_topic("sales-topic")
            pipeline = Pipeline(
                logs=logs,
                kafka_bootstrap=kafka.bootstrap,
                valkey_addr=valkey.addr,
                api_port=ports["api"],
            )
            try:
                pipeline.start_all()
            finally:
                procs.extend(pipeline.procs.values())
                ports.update(
                    bridge=pipeline.bridge_port,
                    writer=pipeline.writer_port,
                    writer_metrics=pipeline.writer_metrics_port,
                    consumer_metrics=pipeline.consumer_ports["consumer"],
                )
                self._save(ports, procs, focus)
        except BaseException:
            self.down()
            raise
        return ports

    def down(self) -> list[str]:
        """Stop every process this stack started (and nothing else); the data stays."""
        procs = self.procs()
        stopped = []
        for proc in sorted(procs, key=lambda p: STOP_ORDER.index(p.name.split("-", 1)[0])):
            if proc.alive():
                proc.stop(timeout=30)
                stopped.append(proc.name)
        self.state_file.unlink(missing_ok=True)
        return stopped


def endpoints(ports: Mapping[str, int]) -> str:
    return "\n".join(
        [
            f"  api       http://127.0.0.1:{ports['api']}/purchase   (POST a sale; GET /healthz /readyz /metrics)",
            f"  valkey    127.0.0.1:{ports['valkey']}",
            f"  kafka     127.0.0.1:{ports['kafka']}   (topic sales-topic)",
            f"  bridge    http://127.0.0.1:{ports.get('bridge', '?')}",
            f"  writer    127.0.0.1:{ports.get('writer', '?')} (gRPC), metrics :{ports.get('writer_metrics', '?')}",
            f"  consumer  metrics http://127.0.0.1:{ports.get('consumer_metrics', '?')}/metrics",
        ]
    )


def valkey_env(stack: Stack, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for bf-report against this stack's Valkey (or BF_VALKEY_PORT when not running)."""
    state = stack.state() or {}
    port = state.get("ports", {}).get("valkey") or _port(environ, "valkey")
    env = dict(os.environ)
    env["VALKEY_ADDR"] = f"127.0.0.1:{port}"
    env.setdefault("FOCUS_CATEGORY", state.get("focus", "Belleza"))
    return env
