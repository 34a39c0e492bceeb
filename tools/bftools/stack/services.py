"""The four services as local processes, wired to each other, to Kafka and to Valkey."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bftools.runtime.ports import claim, free_port
from bftools.runtime.process import Proc, spawn, wait_ready
from blackfriday.kafkaconn import KafkaSecurity
from blackfriday.valkeyconn import Login

MODULES = {
    "api": "blackfriday.api.main",
    "bridge": "blackfriday.bridge.main",
    "writer": "blackfriday.writer.main",
    "consumer": "blackfriday.consumer.main",
}


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a local http:// URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Pipeline:
    """api -> bridge -> writer -> Kafka -> consumer(s) -> Valkey, as processes on 127.0.0.1."""

    logs: Path
    kafka_bootstrap: str
    valkey_addr: str
    #: How each Kafka user logs in: "writer" and "consumer" (their services), "admin" (tests, tools).
    #: Empty: PLAINTEXT, no login.
    kafka_users: dict[str, KafkaSecurity] = field(default_factory=dict)
    #: How each Valkey user logs in: "consumer" (the consumer's), "reader" (reports), "admin" (tests, tools).
    #: Empty: no login (a Valkey without users).
    valkey_users: dict[str, Login] = field(default_factory=dict)
    valkey_db: int = 0
    topic: str = "sales-topic"
    group: str = "black-friday-group"
    api_port: int = field(default_factory=free_port)
    bridge_port: int = field(default_factory=free_port)
    writer_port: int = field(default_factory=free_port)
    writer_metrics_port: int = field(default_factory=free_port)
    #: Extra environment per service name (e.g. {"consumer": {"BATCH_MAX": "50"}}).
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    consumer_ports: dict[str, int] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def kafka_config(self, user: str = "admin") -> dict[str, Any]:
        """kafka-python's bootstrap_servers and security keys for one of the broker's users."""
        security = self.kafka_users.get(user, KafkaSecurity())
        return {"bootstrap_servers": self.kafka_bootstrap, **security.client_config()}

    def valkey_login(self, user: str = "reader") -> Login:
        """How one of Valkey's users logs in (no login when the Valkey has no users)."""
        return self.valkey_users.get(user, Login())

    def env(self, service: str, instance: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1",
            LISTEN_HOST="127.0.0.1",
            METRICS_HOST="127.0.0.1",
            LOG_LEVEL=env.get("LOG_LEVEL", "INFO"),
            KAFKA_BROKERS=self.kafka_bootstrap,
            KAFKA_TOPIC=self.topic,
            KAFKA_DLQ_TOPIC=f"{self.topic}-dlq",
            KAFKA_GROUP=self.group,
            VALKEY_ADDR=self.valkey_addr,
            VALKEY_DB=str(self.valkey_db),
        )
        for name in ("VALKEY_USER", "VALKEY_PASSWORD"):
            env.pop(name, None)  # only the consumer logs in to Valkey, as its own user
        if service == "consumer":
            env.update(self.valkey_login("consumer").env())
        if service in ("writer", "consumer"):
            env.update(self.kafka_users.get(service, KafkaSecurity()).env())
        if service == "api":
            env.update(LISTEN_PORT=str(self.api_port), BRIDGE_URL=f"http://127.0.0.1:{self.bridge_port}")
        elif service == "bridge":
            env.update(LISTEN_PORT=str(self.bridge_port), GRPC_HOST=f"127.0.0.1:{self.writer_port}")
        elif service == "writer":
            env.update(LISTEN_PORT=str(self.writer_port), METRICS_PORT=str(self.writer_metrics_port))
        else:
            env.update(METRICS_PORT=str(self.consumer_ports[instance]))
        env.update(self.extra_env.get(service, {}))
        env.update(self.extra_env.get(instance, {}))
        return env

    @property
    def writer_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.writer_metrics_port}/metrics"

    def ready_url(self, instance: str) -> str:
        port = {
            "api": self.api_port,
            "bridge": self.bridge_port,
            "writer": self.writer_metrics_port,
        }.get(instance) or self.consumer_ports[instance]
        return f"http://127.0.0.1:{port}/readyz"

    def start(self, instance: str, timeout: float = 60.0, wait: bool = True) -> Proc:
        """Start one service ("api", "bridge", "writer", "consumer", "consumer-2", ...) and wait until ready."""
        service = instance.split("-", 1)[0]
        if service == "consumer" and instance not in self.consumer_ports:
            self.consumer_ports[instance] = free_port()
        for port in self._ports(instance):
            claim(port)
        proc = spawn(
            instance,
            [sys.executable, "-m", MODULES[service]],
            log=self.logs / f"{instance}.log",
            env=self.env(service, instance),
            marker=MODULES[service],
        )
        self.procs[instance] = proc
        if wait:
            self.wait_ready(instance, timeout)
        return proc

    def wait_ready(self, instance: str, timeout: float = 60.0) -> None:
        """Until the instance's /readyz answers 200; NotReady (with its log's tail) if it dies first."""
        wait_ready(self.procs[instance], lambda: http_ok(self.ready_url(instance)), timeout)

    def _ports(self, instance: str) -> tuple[int, ...]:
        """The ports an instance listens on (HTTP or gRPC, and metrics)."""
        if instance == "api":
            return (self.api_port,)
        if instance == "bridge":
            return (self.bridge_port,)
        if instance == "writer":
            return (self.writer_port, self.writer_metrics_port)
        return (self.consumer_ports[instance],)

    def start_all(self, consumers: int = 1, timeout: float = 60.0) -> None:
        for instance in ("writer", "bridge", "api"):
            self.start(instance, timeout, wait=False)
        for index in range(consumers):
            self.start("consumer" if index == 0 else f"consumer-{index + 1}", timeout, wait=False)
        for instance in self.procs:
            self.wait_ready(instance, timeout)

    def stop(self, instance: str, timeout: float = 30.0) -> bool:
        proc = self.procs.pop(instance, None)
        return True if proc is None else proc.stop(timeout)

    def stop_all(self, timeout: float = 30.0) -> None:
        # Front to back: the api drains first, the consumer finishes its batch last.
        for instance in sorted(self.procs, key=_stop_order):
            self.stop(instance, timeout)


def _stop_order(instance: str) -> int:
    return ["api", "bridge", "writer", "consumer"].index(instance.split("-", 1)[0])
