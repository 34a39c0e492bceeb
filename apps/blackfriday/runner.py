"""Running a service's asyncio main: uvloop where available, one-line errors for start-up failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return None
    return uvloop.new_event_loop


def run_async(main: Callable[[], Awaitable[None]], log: logging.Logger, listen: str) -> int:
    """Run ``main`` to completion; 0 on a clean stop, 1 when it cannot listen on ``listen``."""

    async def wrapper() -> None:
        await main()

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(wrapper())
    except OSError as exc:
        log.error("cannot listen", extra={"listen": listen, "error": str(exc)})
        return 1
    return 0
