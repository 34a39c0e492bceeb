"""The local stack behind `make up`, `make down`, `make status` and `make report`.

State lives in .stack/<name>/ (git-ignored): state.json (each component's process and ports), logs/, and
the Kafka and Valkey data, which survive `make down` / `make up` like a real deployment's volumes.

`up` heals: with a stack already recorded, it starts again every component that is not running, on the
ports it had (so the others find it again), and says which. `down` stops every process the state records,
restarted ones included, and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bftools.runtime import paths
from bftools.runtime.ports import ensure_free, free_port
from bftools.runtime.process import Proc
from bftools.stack.kafka import DEAD_LETTER_TOPIC, GROUP, SALES_TOPIC, KafkaBroker
from bftools.stack.services import Pipeline
from bftools.stack.valkey import READER, ValkeyServer

#: Ports a user reaches, each overridable by its variable; the others are picked free at the first start.
PORT_VARIABLES: Final = {
    "api": ("BF_API_PORT", 8080),
    "valkey": ("BF_VALKEY_PORT", 6379),
    "kafka": ("BF_KAFKA_PORT", 9092),
}
#: Start order: what a component needs is up before it.
COMPONENTS: Final = ("valkey", "kafka", "writer", "bridge", "api", "consumer")
STOP_ORDER: Final = ("api", "bridge", "writer", "consumer", "kafka", "valkey")
SERVICES: Final = ("writer", "bridge", "api", "consumer")


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
class Up:
    """What `up` did: the ports, and which components it started ("started") or started again ("restarted")."""

    ports: dict[str, int]
    started: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)


@dataclass
class Stack:
    name: str = "local"

    @property
    def home(self) -> Path:
        return paths.STATE / self.name

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def state(self) -> dict[str, Any] | None:
        try:
            loaded: dict[str, Any] = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return loaded

    def procs(self) -> dict[str, Proc]:
        """The recorded process of each component."""
        recorded = (self.state() or {}).get("procs", {})
        return {
            name: Proc(name=name, pid=p["pid"], log=Path(p["log"]), marker=p["marker"]) for name, p in recorded.items()
        }

    def running(self) -> bool:
        return any(proc.alive() for proc in self.procs().values())

    def _save(self, ports: dict[str, int], procs: dict[str, Proc], settings: dict[str, Any]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        state = {
            "ports": ports,
            "settings": settings,
            "procs": {n: {"pid": p.pid, "log": str(p.log), "marker": p.marker} for n, p in procs.items()},
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def up(self, environ: Mapping[str, str], fresh: bool = False) -> Up:
        """Start what is not running (everything, the first time); wait until each is ready."""
        paths.java()
        paths.kafka_classpath()
        paths.valkey_server()
        state = self.state()
        if fresh:
            if state is not None and self.running():
                raise StackError("the stack is running: stop it with make down before starting it fresh")
            shutil.rmtree(self.home, ignore_errors=True)
            state = None
        if state is None or not state.get("procs"):
            return self._first_start(environ)
        return self._heal(state)

    def _first_start(self, environ: Mapping[str, str]) -> Up:
        ports = {service: _port(environ, service) for service in PORT_VARIABLES}
        for service, port in ports.items():
            ensure_free(port, service, PORT_VARIABLES[service][0])
        ports.update(
            kafka_controller=free_port(),
            bridge=free_port(),
            writer=free_port(),
            writer_metrics=free_port(),
            consumer_metrics=free_port(),
        )
        settings = {
            "focus": environ.get("FOCUS_CATEGORY", "").strip() or "Belleza",
            "partitions": int(environ.get("BF_KAFKA_PARTITIONS", "3") or 3),
        }
        try:
            procs = self._start(list(COMPONENTS), ports, {}, settings)
        except BaseException:
            self.down()
            raise
        return Up(ports, started=list(procs))

    def _heal(self, state: dict[str, Any]) -> Up:
        ports: dict[str, int] = state["ports"]
        recorded = self.procs()
        dead = [name for name in COMPONENTS if name not in recorded or not recorded[name].alive()]
        if dead:
            for name in dead:
                port = {"api": ports["api"], "valkey": ports["valkey"], "kafka": ports["kafka"]}.get(name)
                if port is not None:
                    ensure_free(port, name, PORT_VARIABLES[name][0])
            alive = {n: p for n, p in recorded.items() if n not in dead}
            self._start(dead, ports, alive, state.get("settings", {}))
        return Up(ports, restarted=dead)

    def _start(
        self, names: list[str], ports: dict[str, int], procs: dict[str, Proc], settings: dict[str, Any]
    ) -> dict[str, Proc]:
        """Start ``names`` in order on the recorded ports, saving the state after each one."""
        partitions = int(settings.get("partitions", 3))
        kafka = self.kafka(ports, partitions)
        valkey = self.valkey(ports)
        pipeline: Pipeline | None = None  # made once Kafka has its credentials
        for name in names:
            if name == "valkey":
                procs[name] = valkey.start(self.logs / "valkey.log")
            elif name == "kafka":
                procs[name] = kafka.start(self.logs / "kafka.log")
                kafka.create_pipeline(SALES_TOPIC, GROUP)
            else:
                pipeline = pipeline or self._pipeline(ports)
                procs[name] = pipeline.start(name, wait=False)
            self._save(ports, procs, settings)
        for name in names:
            if name in SERVICES and pipeline is not None:
                pipeline.wait_ready(name)
        return procs

    def kafka(self, ports: Mapping[str, int], partitions: int = 3) -> KafkaBroker:
        """The stack's broker (its credentials and CA are in its home once it has started)."""
        return KafkaBroker(self.home / "kafka", ports["kafka"], ports["kafka_controller"], partitions=partitions)

    def valkey(self, ports: Mapping[str, int]) -> ValkeyServer:
        """The stack's Valkey (its users' passwords are in its home once it has started)."""
        return ValkeyServer(self.home / "valkey", ports["valkey"])

    def _pipeline(self, ports: Mapping[str, int]) -> Pipeline:
        kafka = self.kafka(ports)
        return Pipeline(
            logs=self.logs,
            kafka_bootstrap=kafka.bootstrap,
            kafka_users=kafka.service_users(),
            valkey_addr=f"127.0.0.1:{ports['valkey']}",
            valkey_users=self.valkey(ports).logins(),
            topic=SALES_TOPIC,
            group=GROUP,
            api_port=ports["api"],
            bridge_port=ports["bridge"],
            writer_port=ports["writer"],
            writer_metrics_port=ports["writer_metrics"],
            consumer_ports={"consumer": ports["consumer_metrics"]},
        )

    def pipeline(self) -> Pipeline:
        """The services of the running stack, to start more of them (a second consumer) on its wiring."""
        state = self.state()
        if state is None:
            raise StackError("the local stack is not running: start it with make up")
        pipeline = self._pipeline(state["ports"])
        pipeline.procs.update({n: p for n, p in self.procs().items() if n in SERVICES})
        return pipeline

    def down(self) -> list[str]:
        """Stop every process this stack started (restarted ones included) and nothing else; the data stays."""
        stopped = []
        for name, proc in sorted(self.procs().items(), key=lambda item: STOP_ORDER.index(item[0])):
            if proc.alive():
                proc.stop(timeout=30)
                stopped.append(name)
        self.state_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> list[tuple[str, str, Proc | None]]:
        """(component, "running" / "dead" / "not started", its process) for every component."""
        recorded = self.procs()
        rows: list[tuple[str, str, Proc | None]] = []
        for name in COMPONENTS:
            proc = recorded.get(name)
            state = "not started" if proc is None else "running" if proc.alive() else "dead"
            rows.append((name, state, proc))
        return rows


def endpoints(ports: Mapping[str, int]) -> str:
    return "\n".join(
        [
            f"  api       http://127.0.0.1:{ports['api']}/purchase   (POST a sale; GET /healthz /readyz /metrics)",
            f"  valkey    127.0.0.1:{ports['valkey']}   (users: make report logs in as reader; passwords in "
            f"{paths.STATE}/<stack>/valkey/users.json)",
            f"  kafka     127.0.0.1:{ports['kafka']}   (SASL_SSL; topics {SALES_TOPIC}, {DEAD_LETTER_TOPIC})",
            f"  bridge    http://127.0.0.1:{ports.get('bridge', '?')}",
            f"  writer    127.0.0.1:{ports.get('writer', '?')} (gRPC), metrics :{ports.get('writer_metrics', '?')}",
            f"  consumer  metrics http://127.0.0.1:{ports.get('consumer_metrics', '?')}/metrics",
        ]
    )


def valkey_env(stack: Stack, environ: Mapping[str, str], user: str = READER) -> dict[str, str]:
    """The environment for bf-report against this stack's Valkey (or BF_VALKEY_PORT when not running), logged
    in as ``user`` (the read-only reader by default)."""
    state = stack.state() or {}
    port = state.get("ports", {}).get("valkey") or _port(environ, "valkey")
    env = dict(os.environ)
    env["VALKEY_ADDR"] = f"127.0.0.1:{port}"
    env.update(stack.valkey({"valkey": port}).login(user).env())
    env.setdefault("FOCUS_CATEGORY", state.get("settings", {}).get("focus", "Belleza"))
    return env
