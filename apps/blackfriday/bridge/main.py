"""bf-bridge: HTTP/JSON to gRPC (Starlette on Hypercorn, grpc.aio client)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from blackfriday import logs
from blackfriday.bridge.app import create_app
from blackfriday.bridge.settings import BridgeSettings
from blackfriday.metrics import new_registry
from blackfriday.runner import run_async
from blackfriday.settings import SettingsError
from blackfriday.web import serve_http

log = logging.getLogger("blackfriday.bridge")


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    try:
        settings = BridgeSettings.from_env(os.environ)
    except SettingsError as exc:
        print(f"bf-bridge: {exc}", file=sys.stderr)
        return 2
    logs.configure("bridge", settings.log_level)
    app = create_app(settings, new_registry())

    async def serve() -> None:
        await serve_http(
            app,
            settings.listen_host,
            settings.listen_port,
            settings.graceful_timeout_seconds,
            app.state.health,
        )

    return run_async(serve, log, f"{settings.listen_host}:{settings.listen_port}")


if __name__ == "__main__":
    sys.exit(main())
