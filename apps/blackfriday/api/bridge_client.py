"""The api's HTTP/1.1 client for the bridge: a pool of keep-alive connections, one request at a time each.

It does only what the api needs from one known upstream (POST a JSON body, GET a probe; answers with a
Content-Length), and costs a small fraction of a general client: under load, httpx's request path was a
fifth of the api's CPU.

A request is sent once, never again: a sale must not reach Kafka twice. What the client does instead is
never send on a connection the bridge may be closing. It drops a pooled connection the bridge has closed
(end of stream seen) and any connection idle for ``idle_seconds``, which is kept below the time a draining
bridge leaves an idle connection open (its DRAIN_IDLE_SECONDS) and its keep-alive timeout. A connection
that cannot be opened is tried again for the connect timeout (a pod restarting, a Service's endpoints
moving): nothing was sent, so nothing can be stored twice. Every error says whether the request was sent
(``BridgeError.sent``): the api tells its client "stored": "no" when it was not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlsplit

MAX_HEADER_BYTES: Final = 64 * 1024


class BridgeError(Exception):
    """The bridge could not be reached or did not answer in time; ``sent``: whether the request left."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class BridgeTimeout(BridgeError):
    pass


class BridgeUnreachable(BridgeError):
    pass


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


class Bridge(Protocol):
    """What the api needs of the bridge (BridgeClient; the tests give a fake)."""

    async def post_json(self, path: str, body: bytes, timeout: float) -> Answer: ...

    async def get(self, path: str, timeout: float) -> Answer: ...

    async def aclose(self) -> None: ...


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = time.monotonic()

    def reusable(self, now: float, idle_seconds: float) -> bool:
        """Not closed by the bridge, and not idle so long that the bridge may be closing it."""
        return (
            now - self.idle_since < idle_seconds
            and not self.reader.at_eof()
            and self.reader.exception() is None
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class BridgeClient:
    def __init__(self, base_url: str, *, pool_size: int, connect_timeout: float, idle_seconds: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http:// URL, got {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._authority = f"{self._host}:{self._port}".encode()
        self._connect_timeout = connect_timeout
        self._idle_seconds = idle_seconds
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(pool_size)
        self._closed = False

    async def post_json(self, path: str, body: bytes, timeout: float) -> Answer:
        head = (
            b"POST " + path.encode() + b" HTTP/1.1\r\nhost: " + self._authority
            + b"\r\ncontent-type: application/json\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
        )  # fmt: skip
        return await self._request(head + body, timeout)

    async def get(self, path: str, timeout: float) -> Answer:
        head = b"GET " + path.encode() + b" HTTP/1.1\r\nhost: " + self._authority + b"\r\n\r\n"
        return await self._request(head, timeout)

    async def aclose(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    async def _request(self, request: bytes, timeout: float) -> Answer:
        async with self._slots:
            sent = False
            refused: Exception | None = None  # why the last connection attempt failed
            try:
                async with asyncio.timeout(timeout):
                    delay, give_up = 0.05, time.monotonic() + self._connect_timeout
                    while (connection := self._pooled()) is None:
                        try:
                            connection = await self._connect()
                            break
                        except (OSError, TimeoutError) as exc:
                            # Nothing was sent: try again (another pod, or the same one back) for the connect
                            # timeout; past it the bridge is down, and the caller hears so at once.
                            refused = exc
                            if time.monotonic() + delay > give_up:
                                raise
                            await asyncio.sleep(delay)
                            delay = min(delay * 2, 0.5)
                    sent = True
                    try:
                        answer, keep = await self._exchange(connection, request)
                    except BaseException:
                        connection.close()
                        raise
                    if keep and not self._closed:
                        connection.idle_since = time.monotonic()
                        self._idle.append(connection)
                    else:
                        connection.close()
                    return answer
            except TimeoutError:
                if refused is not None and not sent:
                    raise BridgeUnreachable(
                        f"bridge unreachable: {refused!s} ({type(refused).__name__})", sent=False
                    ) from None
                raise BridgeTimeout(f"no answer from the bridge within {timeout:g}s", sent=sent) from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                raise BridgeUnreachable(f"bridge unreachable: {exc!s} ({type(exc).__name__})", sent=sent) from None

    def _pooled(self) -> _Connection | None:
        """A pooled connection fit for a request (the most recently used first: the others age out)."""
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable(now, self._idle_seconds):
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(self._host, self._port, limit=MAX_HEADER_BYTES)
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, request: bytes) -> tuple[Answer, bool]:
        """Send the request, read the answer; and whether the connection can be used again."""
        connection.writer.write(request)
        await connection.writer.drain()
        head = await connection.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        status = int(rest[:3])
        length = 0
        keep = version == "HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                keep = value.strip().lower() != "close"
            elif name == "transfer-encoding":
                raise ValueError("chunked answers are not expected from the bridge")
        body = await connection.reader.readexactly(length) if length else b""
        return Answer(status, body), keep
