"""How every service starts and stops: settings, logs, event loop, signals, exit code.

    def main(argv: Sequence[str] | None = None) -> int:
        return bootstrap.run("api", ApiSettings, serve)

``serve(settings, stop)`` runs the service until ``stop`` is set (SIGTERM or SIGINT) and returns once it
has drained. Exit codes: 0 a clean stop, 1 the service cannot start (a port taken, ...) or crashed (the
traceback is logged as JSON), 2 a bad setting (one line on stderr naming the variable).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from blackfriday import logs
from blackfriday.settings import FromEnv, SettingsError

S = TypeVar("S", bound=FromEnv)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return None
    return uvloop.new_event_loop


def run(
    service: str,
    settings_type: type[S],
    serve: Callable[[S, asyncio.Event], Awaitable[None]],
    environ: Mapping[str, str] | None = None,
) -> int:
    try:
        settings = settings_type.from_env(os.environ if environ is None else environ)
    except SettingsError as exc:
        print(f"bf-{service}: {exc}", file=sys.stderr)
        return 2
    logs.configure(service, settings.log_level)
    log = logging.getLogger(f"blackfriday.{service}")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(logs.asyncio_exception_handler)

        def on_signal(sig: signal.Signals) -> None:
            if not stop.is_set():
                log.info("shutting down", extra={"signal": sig.name})
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig)
        await serve(settings, stop)

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main())
    except OSError as exc:
        log.error("cannot start", extra={"error": str(exc)})
        return 1
    except Exception:
        log.exception("stopped by an unexpected error")
        return 1
    log.info("stopped")
    return 0


def service_main(
    service: str, settings_type: type[S], serve: Callable[[S, asyncio.Event], Awaitable[None]]
) -> Callable[[Sequence[str] | None], int]:
    """The ``main(argv=None) -> int`` of a service's console script (bf-<service>)."""

    def main(argv: Sequence[str] | None = None) -> int:
        del argv  # the services take their settings from the environment only
        return run(service, settings_type, serve)

    main.__doc__ = f"bf-{service}: run the {service} until SIGTERM or SIGINT."
    return main
