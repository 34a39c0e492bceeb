"""Structured logs: one JSON object per line on stdout, configured once in each service's start.

Everything a service writes goes through here, so every line is JSON: its own logs, the libraries' logs,
warnings, and the tracebacks of exceptions nobody caught (in the main thread, other threads, or asyncio
tasks).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
from types import TracebackType
from typing import Any, Final

# Attributes every LogRecord has; anything else was passed through `extra=` and is logged as a field.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

log = logging.getLogger(__name__)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _uncaught(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    log.critical("uncaught exception", exc_info=(kind, value, tb))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    log.critical(
        "uncaught exception in a thread",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        extra={"thread": args.thread.name if args.thread else None},
    )


def asyncio_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception asyncio could not hand to anybody (a task nobody awaited, a callback)."""
    exc = context.get("exception")
    log.error(
        context.get("message", "unhandled exception in the event loop"),
        exc_info=(type(exc), exc, exc.__traceback__) if isinstance(exc, BaseException) else None,
    )


def configure(service: str, level: str) -> None:
    """Route every logger, warning and uncaught exception to stdout as JSON at ``level``."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    # kafka-python logs every reconnect attempt at WARNING/ERROR; keep our own logs readable. Its group
    # coordination (join, assignment, revocation, coordinator found) logs only when the group changes:
    # kept at the service's level, it tells an operator which partitions a consumer holds, and why.
    logging.getLogger("kafka").setLevel(max(logging.getLevelName(level), logging.WARNING))
    logging.getLogger("kafka.coordinator").setLevel(level)
    logging.getLogger("hypercorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per forwarded batch otherwise
