"""bf-api: the public HTTP entry point (Starlette on Hypercorn)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from blackfriday import logs
from blackfriday.api.app import create_app
from blackfriday.api.settings import ApiSettings
from blackfriday.metrics import new_registry
from blackfriday.runner import run_async
from blackfriday.settings import SettingsError
from blackfriday.web import serve_http

log = logging.getLogger("blackfriday.api")


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    try:
        settings = ApiSettings.from_env(os.environ)
    except SettingsError as exc:
        print(f"bf-api: {exc}", file=sys.stderr)
        return 2
    logs.configure("api", settings.log_level)
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
