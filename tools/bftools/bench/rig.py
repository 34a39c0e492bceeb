"""The benchmark's components: one Kafka broker and one Valkey for the whole run, services per row.

Everything runs on 127.0.0.1, on free ports, under out/bench/run/ (logs included), and is stopped by its
recorded process at the end.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from valkey import Valkey

from bftools.runtime.ports import free_port
from bftools.runtime.process import Proc, spawn, wait_for, wait_ready
from bftools.stack.kafka import KafkaBroker
from bftools.stack.services import Pipeline, http_ok
from bftools.stack.valkey import ADMIN, CONSUMER, ValkeyServer
from blackfriday import keys

PARTITIONS = 3


@dataclass
class Rig:
    home: Path
    kafka: KafkaBroker = field(init=False)
    valkey: ValkeyServer = field(init=False)
    extra: list[Proc] = field(default_factory=list)

    def start(self) -> Rig:
        self.kafka = KafkaBroker(self.home / "kafka", free_port(), free_port(), partitions=PARTITIONS)
        self.kafka.start(self.home / "logs" / "kafka.log")
        self.valkey = ValkeyServer(self.home / "valkey", free_port())
        self.valkey.start(self.home / "logs" / "valkey.log")
        return self

    def stop(self) -> None:
        for proc in self.extra:
            proc.stop(10)
        self.extra.clear()
        with contextlib.suppress(Exception):
            self.kafka.stop()
        with contextlib.suppress(Exception):
            self.valkey.stop()

    def topic(self, partitions: int = PARTITIONS) -> str:
        """A fresh topic (and its dead-letter topic) for one row, the writer's and consumer's ACLs on them."""
        name = f"bench-{uuid.uuid4().hex[:8]}"
        self.kafka.create_pipeline(name, f"group-{name}", partitions)
        return name

    def kafka_env(self, user: str, topic: str, group: str | None = None) -> dict[str, str]:
        """KAFKA_BROKERS and the login of ``user`` (writer, consumer) for a bench process on ``topic``; with
        ``group``, the consumer's ACL on that group too."""
        if group is not None:
            self.kafka.grant_pipeline(topic, group)
        return {"KAFKA_BROKERS": self.kafka.bootstrap, "KAFKA_TOPIC": topic, **self.kafka.security(user).env()}

    def client(self, user: str = ADMIN) -> Valkey:
        """A client of the rig's Valkey, as the admin (flushes between rows) or another of its users."""
        return self.valkey.client(user=user)

    def valkey_env(self, user: str = CONSUMER) -> dict[str, str]:
        """VALKEY_ADDR and the login of ``user`` for a bench process."""
        return {"VALKEY_ADDR": self.valkey.addr, **self.valkey.login(user).env()}

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()

    def counted(self) -> int:
        with self.client() as client:
            return int(cast(bytes | None, client.get(keys.SALES_TOTAL)) or 0)

    def pipeline(self, topic: str, env: Mapping[str, Mapping[str, str]] | None = None) -> Pipeline:
        group = f"group-{topic}-{uuid.uuid4().hex[:6]}"  # each row reads the topic from its start
        self.kafka.grant_pipeline(topic, group)
        return Pipeline(
            logs=self.home / "logs",
            kafka_bootstrap=self.kafka.bootstrap,
            kafka_users=self.kafka.service_users(),
            valkey_addr=self.valkey.addr,
            valkey_users=self.valkey.logins(),
            topic=topic,
            group=group,
            extra_env={name: {"LOG_LEVEL": "WARNING", **values} for name, values in (env or {}).items()},
        )

    def restart_valkey(self, appendfsync: str | None) -> None:
        """Valkey again, empty, with another durability setting (None: no AOF)."""
        self.valkey.stop()
        home = self.home / f"valkey-{appendfsync or 'noaof'}-{uuid.uuid4().hex[:4]}"
        self.valkey = ValkeyServer(home, free_port(), appendfsync=appendfsync, credentials=self.valkey.credentials_file)
        self.valkey.start(self.home / "logs" / "valkey.log")

    def add_replica(self) -> Proc:
        replica = ValkeyServer(
            self.home / f"replica-{uuid.uuid4().hex[:4]}",
            free_port(),
            replica_of=self.valkey.addr,
            credentials=self.valkey.credentials_file,
        )
        proc = replica.start(self.home / "logs" / "valkey-replica.log")
        self.extra.append(proc)
        return proc

    def module(self, name: str, module: str, env: Mapping[str, str], ready_url: str | None = None) -> Proc:
        """A bench process (python -m bftools.bench.<module> ...), waited on until ``ready_url`` answers."""
        argv = [sys.executable, "-m", *module.split()]
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        proc = spawn(name, argv, log=self.home / "logs" / f"{name}.log", env=full_env, marker=module.split()[0])
        self.extra.append(proc)
        if ready_url is not None:
            wait_ready(proc, lambda: http_ok(ready_url), 60)
        return proc

    def stop_extra(self) -> None:
        for proc in self.extra:
            proc.stop(10)
        self.extra.clear()


@contextlib.contextmanager
def services(pipeline: Pipeline, names: list[str]) -> Iterator[Pipeline]:
    """Start ``names`` of the pipeline (ready), and stop them after the block."""
    try:
        for name in names:
            pipeline.start(name, wait=False)
        for name in names:
            pipeline.wait_ready(name, 60)
        yield pipeline
    finally:
        pipeline.stop_all(10)


def wait_counted(rig: Rig, total: int, timeout: float = 120) -> bool:
    return wait_for(lambda: rig.counted() >= total, timeout, interval=0.25)
