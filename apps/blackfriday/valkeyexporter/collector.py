"""What a scrape reads: one INFO of each Valkey server, as gauges and counters labelled by ``instance``
(valkey_up is 0 for a server that does not answer; its other figures are then absent, not stale)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import valkey
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Info = Callable[[], Mapping[str, Any]]
#: (metric, INFO field, help): the plain numbers.
GAUGES: Final = (
    ("valkey_used_memory_bytes", "used_memory", "Memory Valkey uses for its data"),
    ("valkey_maxmemory_bytes", "maxmemory", "Its maxmemory (0: none): at it, writes are refused"),
    ("valkey_connected_replicas", "connected_replicas", "Replicas connected to this server (a primary)"),
    ("valkey_replication_offset", "master_repl_offset", "This server's replication offset"),
    ("valkey_connected_clients", "connected_clients", "Client connections"),
)
COUNTERS: Final = (
    ("valkey_commands_processed", "total_commands_processed", "Commands processed"),
    ("valkey_rejected_connections", "rejected_connections", "Connections refused (maxclients)"),
)


class InfoCollector(Collector):
    """The figures of every server in ``servers`` (instance name -> its INFO), read at each scrape, all at once:
    a scrape takes one server's timeout, not the sum of them, however many do not answer."""

    def __init__(self, servers: Mapping[str, Info]) -> None:
        self._servers = servers
        #: The last scrape: when it ended (monotonic), and whether any server answered it.
        self.last: tuple[float, bool] | None = None

    def _read_all(self) -> dict[str, Mapping[str, Any] | None]:
        def read(instance: str) -> Mapping[str, Any] | None:
            try:
                return self._servers[instance]()
            except (valkey.ValkeyError, OSError):
                return None

        instances = list(self._servers)
        if len(instances) < 2:
            return {instance: read(instance) for instance in instances}
        with ThreadPoolExecutor(max_workers=len(instances), thread_name_prefix="info") as pool:
            return dict(zip(instances, pool.map(read, instances), strict=True))

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

        def add(
            kind: type[GaugeMetricFamily | CounterMetricFamily], name: str, doc: str, instance: str, value: float
        ) -> None:
            family = families.get(name)
            if family is None:
                family = families[name] = kind(name, doc, labels=["instance"])
            family.add_metric([instance], value)

        infos = self._read_all()
        self.last = (time.monotonic(), any(info is not None for info in infos.values()))
        for instance, info in infos.items():
            if info is None:
                add(GaugeMetricFamily, "valkey_up", "1 when the server answered INFO", instance, 0)
                continue
            add(GaugeMetricFamily, "valkey_up", "1 when the server answered INFO", instance, 1)
            for name, field, doc in GAUGES:
                if field in info:
                    add(GaugeMetricFamily, name, doc, instance, float(info[field]))
            for name, field, doc in COUNTERS:
                if field in info:
                    add(CounterMetricFamily, name, doc, instance, float(info[field]))
            primary = info.get("role") == "master"
            add(GaugeMetricFamily, "valkey_primary", "1 on the primary, 0 on a replica", instance, 1 if primary else 0)
            if not primary:
                up = 1 if info.get("master_link_status") == "up" else 0
                add(
                    GaugeMetricFamily,
                    "valkey_primary_link_up",
                    "1 while a replica's link to its primary is up",
                    instance,
                    up,
                )
            ok = 1 if info.get("aof_last_write_status", "ok") == "ok" else 0
            add(
                GaugeMetricFamily,
                "valkey_aof_last_write_ok",
                "1 while the append-only file's last write worked",
                instance,
                ok,
            )
            keys = sum(int(v.get("keys", 0)) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))
            add(GaugeMetricFamily, "valkey_keys", "Keys in every database", instance, keys)
        yield from families.values()
