"""Hypercorn's connection handler, bounded in number and in time, and drained without racing the client.

Hypercorn serves each connection with a ``TCPServer``; ``connection_class`` returns a subclass that adds:

- **A bound that idle connections cannot hold.** At MAX_CONNECTIONS, a new connection takes the slot of the
  connection idle the longest (a keep-alive connection between requests, or one that has sent nothing
  yet), which is closed; only when every connection is busy is the new one answered 503 and closed.
- **Slots freed at once.** Hypercorn's own handler keeps its keep-alive timer running after the client has
  closed the connection, and its task group waits for that timer: a closed connection held its slot until
  KEEP_ALIVE_TIMEOUT_SECONDS (65 s). The timer is stopped as soon as the client is gone.
- **A header timeout of its own.** A connection must deliver a complete request head within
  HEADER_TIMEOUT_SECONDS of connecting, and a keep-alive connection within that long of the first byte of
  its next request: otherwise it gets 408 and is closed. Idle keep-alive connections (no byte of a next
  request) stay open until KEEP_ALIVE_TIMEOUT_SECONDS, or until a new connection needs the slot.
- **A drain that does not race the client.** Hypercorn closes every idle connection the instant it stops;
  a client sending its next request on one at that moment gets a reset, not an answer. Here, once
  draining, every answer carries ``Connection: close`` (the client moves to another pod after it), and a
  connection is closed only after DRAIN_IDLE_SECONDS without a request: a request that arrives meanwhile is
  served. HTTP clients drop an idle connection the server has closed before they reuse it, and the api's
  own pool drops its connections to the bridge after a shorter idle time (BRIDGE_IDLE_SECONDS), so no
  request is sent on a connection the server is closing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from ssl import SSLError
from typing import Any, Final

from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.config import Config
from hypercorn.events import Closed, Event, RawData, Updated
from prometheus_client import CollectorRegistry, Counter, Gauge

RETRY_AFTER_SECONDS: Final = 1


def _answer(status: str, headers: str, document: dict[str, Any]) -> bytes:
    body = json.dumps(document).encode()
    head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}connection: close\r\n"
    return head.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body


#: The whole answer to a connection over the limit, written before reading anything from it.
BUSY_RESPONSE: Final = _answer(
    "503 Service Unavailable",
    f"retry-after: {RETRY_AFTER_SECONDS}\r\n",
    {"error": "unavailable", "reason": "too many connections", "stored": "no", "retry_after_seconds": 1},
)


def header_timeout_response(seconds: float) -> bytes:
    document = {"error": "request timeout", "fields": {"headers": f"not received within {seconds:g}s"}}
    return _answer("408 Request Timeout", "", document)


@dataclass(frozen=True, slots=True)
class ConnectionBounds:
    max_connections: int
    header_timeout: float
    drain_idle: float


class DrainingConfig(Config):
    """Hypercorn's configuration, with ``Connection: close`` on every answer once the server drains."""

    def __init__(self, draining: Callable[[], bool]) -> None:
        super().__init__()
        self._draining = draining

    def response_headers(self, protocol: str) -> list[tuple[bytes, bytes]]:
        headers = super().response_headers(protocol)
        if protocol == "h11" and self._draining():
            headers.append((b"connection", b"close"))
        return headers


class Connections:
    """The open connections, at most ``limit``; at the limit the idlest one makes room for a new one.

    Used from the event loop's thread only: no lock.
    """

    def __init__(self, limit: int, registry: CollectorRegistry) -> None:
        self.limit = limit
        self._open: dict[BoundedConnection, None] = {}
        self._gauge = Gauge("bf_http_connections", "Open client connections", registry=registry)
        self._refused = Counter(
            "bf_http_connections_refused",
            "Connections answered 503 for being over MAX_CONNECTIONS while every open one was busy",
            registry=registry,
        )
        self._evicted = Counter(
            "bf_http_connections_evicted",
            "Idle connections closed to make room for a new one at MAX_CONNECTIONS",
            registry=registry,
        )
        self.header_timeouts = Counter(
            "bf_http_header_timeouts",
            "Connections closed for not sending a complete request head within HEADER_TIMEOUT_SECONDS",
            registry=registry,
        )

    def __len__(self) -> int:
        return len(self._open)

    async def admit(self, connection: BoundedConnection) -> bool:
        if len(self._open) >= self.limit:
            idle = [c for c in self._open if c.idle_since is not None]
            if not idle:
                self._refused.inc()
                return False
            victim = min(idle, key=lambda c: c.idle_since or 0.0)
            self.leave(victim)
            self._evicted.inc()
            await victim.evict()
        self._open[connection] = None
        self._gauge.set(len(self._open))
        return True

    def leave(self, connection: BoundedConnection) -> None:
        if connection in self._open:
            del self._open[connection]
            self._gauge.set(len(self._open))


class BoundedConnection(TCPServer):
    """One client connection (see the module's docstring). ``connections`` and ``bounds`` are set on the
    subclass ``connection_class`` makes."""

    connections: Connections
    bounds: ConnectionBounds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        now = time.monotonic()
        #: Since when no request has been active and no byte of a next one has come; None while busy.
        self.idle_since: float | None = now
        #: When the request head being received (or the first one, on a new connection) is due.
        self._head_due: float | None = now + self.bounds.header_timeout
        self._head_bytes = 0

    async def run(self) -> None:
        if not await self.connections.admit(self):
            await self._refuse()
            return
        try:
            await super().run()
        finally:
            self.connections.leave(self)

    async def _refuse(self) -> None:
        try:
            self.writer.write(BUSY_RESPONSE)
            await self.writer.drain()
            self.writer.close()
            await self.writer.wait_closed()
        except (ConnectionError, OSError, RuntimeError):
            pass  # the client went away first: nothing to answer

    async def evict(self) -> None:
        await self._initiate_server_close()

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, Updated):
            if event.idle:
                self.idle_since, self._head_due, self._head_bytes = time.monotonic(), None, 0
            else:  # a request's head is complete
                self.idle_since, self._head_due = None, None
        await super().protocol_send(event)

    async def _read_data(self) -> None:
        while not self.reader.at_eof():
            timeout = None if self._head_due is None else max(0.0, self._head_due - time.monotonic())
            try:
                data = await asyncio.wait_for(self.reader.read(MAX_RECV), timeout)
            except TimeoutError:
                await self._head_timed_out()
                break
            except (ConnectionError, OSError, SSLError):
                break
            if data and self.idle_since is not None:
                # The first byte of a request head: the connection is busy, and its head is due in time.
                self.idle_since = None
                if self._head_due is None:
                    self._head_due = time.monotonic() + self.bounds.header_timeout
            if self._head_due is not None:
                self._head_bytes += len(data)
            await self.protocol.handle(RawData(data))
        await self.protocol.handle(Closed())
        # The client is gone: stop the keep-alive timer now, or the task group waits for it to expire.
        await self.idle_task.stop()

    async def _head_timed_out(self) -> None:
        self.connections.header_timeouts.inc()
        if self._head_bytes:
            try:
                self.writer.write(header_timeout_response(self.bounds.header_timeout))
                await self.writer.drain()
            except (ConnectionError, OSError, RuntimeError):
                pass

    async def _idle_timeout(self) -> None:
        terminated = self.context.terminated
        try:
            await asyncio.wait_for(terminated.wait(), self.config.keep_alive_timeout)
        except TimeoutError:
            pass
        else:
            # Draining: a request may be on its way on this connection; close once it has been idle long
            # enough that no client still counts on it.
            idle_since = self.idle_since if self.idle_since is not None else time.monotonic()
            await asyncio.sleep(max(0.0, idle_since + self.bounds.drain_idle - time.monotonic()))
        await asyncio.shield(self._initiate_server_close())


def connection_class(connections: Connections, bounds: ConnectionBounds) -> type[BoundedConnection]:
    return type("Connection", (BoundedConnection,), {"connections": connections, "bounds": bounds})
