"""bf-valkey-exporter: serves /metrics (each Valkey server's INFO, read at each scrape), /healthz and /readyz
(ready while one server answers)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Mapping
from typing import Any

import valkey

from blackfriday.bootstrap import service_main
from blackfriday.metrics import new_registry
from blackfriday.opsserver import OpsServer
from blackfriday.valkeyconn import connect
from blackfriday.valkeyexporter.collector import InfoCollector
from blackfriday.valkeyexporter.settings import ExporterSettings


def _reader(client: valkey.Valkey) -> Any:
    def read() -> Mapping[str, Any]:
        info: Mapping[str, Any] = client.info()  # type: ignore[assignment]
        return info

    return read


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

    def ready() -> tuple[bool, str]:
        for addr, client in clients.items():
            with contextlib.suppress(valkey.ValkeyError):
                if client.ping():
                    return True, f"{addr} answers"
        return False, "no Valkey server answers"

    registry = new_registry()
    registry.register(InfoCollector({addr: _reader(client) for addr, client in clients.items()}))
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
