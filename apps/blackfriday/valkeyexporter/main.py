"""bf-valkey-exporter: serves /metrics (each Valkey server's INFO, read at each scrape), /healthz and /readyz
(ready while one server answers: as the last scrape found, when it is at most RECENT_SECONDS old)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import valkey

from blackfriday.bootstrap import service_main
from blackfriday.metrics import new_registry
from blackfriday.opsserver import OpsServer
from blackfriday.valkeyconn import connect
from blackfriday.valkeyexporter.collector import InfoCollector
from blackfriday.valkeyexporter.settings import ExporterSettings

#: How old the last scrape may be for readiness to be read from it instead of asking each server again.
RECENT_SECONDS: Final = 5.0


def _reader(client: valkey.Valkey) -> Any:
    def read() -> Mapping[str, Any]:
        info: Mapping[str, Any] = client.info()  # type: ignore[assignment]
        return info

    return read


def readiness(
    collector: InfoCollector, clients: Mapping[str, Any], recent: float = RECENT_SECONDS
) -> Callable[[], tuple[bool, str]]:
    """Ready while a server answers. A scrape asks first (bf_ready): answered from the scrape before it when
    that one is recent, so that a scrape of servers that do not answer waits out one timeout, not a ping's and
    then INFO's; otherwise every server is pinged at once (one timeout, however many)."""

    def ping(addr: str) -> bool:
        with contextlib.suppress(valkey.ValkeyError, OSError):
            return bool(clients[addr].ping())
        return False

    def ready() -> tuple[bool, str]:
        last = collector.last
        if last is not None and time.monotonic() - last[0] <= recent:
            return last[1], "a server answered the last scrape" if last[1] else "no server answered the last scrape"
        with ThreadPoolExecutor(max_workers=max(1, len(clients)), thread_name_prefix="ping") as pool:
            answers = dict(zip(clients, pool.map(ping, clients), strict=True))
        answering = [addr for addr, answered in answers.items() if answered]
        return (True, f"{answering[0]} answers") if answering else (False, "no Valkey server answers")

    return ready


async def serve(settings: ExporterSettings, stop: asyncio.Event) -> None:
    clients = {
        addr: connect(
            addr,
            settings.valkey_password,
            timeout=settings.timeout_seconds,
            user=settings.valkey_user,
            ca_file=settings.valkey_ca_file or None,
        )
        for addr in settings.valkey_addrs
    }

    collector = InfoCollector({addr: _reader(client) for addr, client in clients.items()})

    registry = new_registry()
    registry.register(collector)
    ready = readiness(collector, clients)
    ops = OpsServer(settings.metrics_host, settings.metrics_port, registry, lambda: (True, "running"), ready).start()
    try:
        await stop.wait()
    finally:
        ops.stop()
        for client in clients.values():
            client.close()  # type: ignore[no-untyped-call]


main = service_main("valkey-exporter", ExporterSettings, serve)

if __name__ == "__main__":
    sys.exit(main(None))
