"""bf-valkey-exporter's collector: Valkey's INFO figures as metrics, one instance label per server."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import valkey
from prometheus_client import CollectorRegistry, generate_latest

from blackfriday.valkeyexporter.collector import InfoCollector
from blackfriday.valkeyexporter.main import readiness

PRIMARY = {
    "role": "master",
    "used_memory": 1_000_000,
    "maxmemory": 4_000_000,
    "connected_replicas": 1,
    "master_repl_offset": 420,
    "connected_clients": 3,
    "total_commands_processed": 99,
    "rejected_connections": 0,
    "aof_last_write_status": "ok",
    "db0": {"keys": 12, "expires": 0},
}
REPLICA = {**PRIMARY, "role": "slave", "master_link_status": "down", "connected_replicas": 0}


def _scrape(servers: Mapping[str, Any]) -> str:
    registry = CollectorRegistry()
    registry.register(InfoCollector(servers))
    return generate_latest(registry).decode()


def test_each_servers_figures_carry_its_instance() -> None:
    text = _scrape({"v0:6379": lambda: PRIMARY, "v1:6379": lambda: REPLICA})
    assert 'valkey_up{instance="v0:6379"} 1.0' in text
    assert 'valkey_used_memory_bytes{instance="v0:6379"} 1e+06' in text
    assert 'valkey_maxmemory_bytes{instance="v0:6379"} 4e+06' in text
    assert 'valkey_primary{instance="v0:6379"} 1.0' in text
    assert 'valkey_primary{instance="v1:6379"} 0.0' in text
    assert 'valkey_primary_link_up{instance="v1:6379"} 0.0' in text
    assert 'valkey_primary_link_up{instance="v0:6379"}' not in text  # a primary has no link to watch
    assert 'valkey_keys{instance="v0:6379"} 12.0' in text
    assert 'valkey_commands_processed_total{instance="v0:6379"} 99.0' in text


def test_a_server_that_does_not_answer_is_down_and_has_no_stale_figures() -> None:
    def down() -> Mapping[str, Any]:
        raise valkey.ConnectionError("refused")

    text = _scrape({"v0:6379": lambda: PRIMARY, "v1:6379": down})
    assert 'valkey_up{instance="v1:6379"} 0.0' in text
    assert 'valkey_used_memory_bytes{instance="v1:6379"}' not in text
    assert 'valkey_up{instance="v0:6379"} 1.0' in text


def test_the_servers_are_read_at_once_so_a_scrape_waits_out_one_timeout() -> None:
    # Each read waits until all three are being read: read one after another, the first would never return.
    together = threading.Barrier(3, timeout=5)

    def meeting() -> Mapping[str, Any]:
        together.wait()
        return PRIMARY

    text = _scrape({f"v{n}:6379": meeting for n in range(3)})
    assert all(f'valkey_up{{instance="v{n}:6379"}} 1.0' in text for n in range(3)), text


def test_the_last_scrape_says_whether_any_server_answered() -> None:
    def down() -> Mapping[str, Any]:
        raise valkey.TimeoutError("frozen")

    collector = InfoCollector({"v0:6379": down, "v1:6379": down})
    assert collector.last is None
    list(collector.collect())
    assert collector.last is not None
    assert collector.last[1] is False
    collector = InfoCollector({"v0:6379": down, "v1:6379": lambda: REPLICA})
    list(collector.collect())
    assert collector.last is not None
    assert collector.last[1] is True


class Server:
    """A client's ping: answers, or fails as a frozen server does; counts the pings."""

    def __init__(self, answers: bool, meeting: threading.Barrier | None = None) -> None:
        self.answers, self.meeting, self.pings = answers, meeting, 0

    def ping(self) -> bool:
        self.pings += 1
        if self.meeting is not None:
            self.meeting.wait()
        if not self.answers:
            raise valkey.TimeoutError("frozen")
        return True


def test_readiness_comes_from_a_recent_scrape_without_asking_the_servers_again() -> None:
    frozen = Server(answers=False)
    collector = InfoCollector({"v0:6379": lambda: PRIMARY})
    list(collector.collect())
    assert readiness(collector, {"v0:6379": frozen}, recent=60)() == (True, "a server answered the last scrape")
    assert frozen.pings == 0


def test_without_a_recent_scrape_every_server_is_pinged_at_once() -> None:
    # Each ping waits until all three are being pinged: pinged one after another, the first never returns.
    together = threading.Barrier(3, timeout=5)
    servers = {f"v{n}:6379": Server(n == 2, together) for n in range(3)}
    ready = readiness(InfoCollector({}), servers, recent=60)
    assert ready() == (True, "v2:6379 answers")
    for server in servers.values():
        server.answers = False
        server.meeting = None
    assert ready() == (False, "no Valkey server answers")
