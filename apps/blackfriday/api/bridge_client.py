"""The api's HTTP/1.1 client for the bridge: a pool of keep-alive connections, one request at a time each.

It does only what the api needs from one known upstream (POST a JSON body, GET a probe; answers with a
Content-Length), and costs a small fraction of a general client: under load, httpx's request path was a
fifth of the api's CPU. A request that fails on a reused connection before any byte of the answer came
(the bridge closed an idle connection, or restarted) is sent once more on a new connection; the batch may
then reach the writer twice, and its sales are still counted once (the consumer skips repeated sale ids).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlsplit

MAX_HEADER_BYTES: Final = 64 * 1024


class BridgeError(Exception):
    """The bridge could not be reached or did not answer in time."""


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
        self.used = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class BridgeClient:
    def __init__(self, base_url: str, *, pool_size: int, connect_timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http:// URL, got {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._authority = f"{self._host}:{self._port}".encode()
        self._connect_timeout = connect_timeout
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
            try:
                async with asyncio.timeout(timeout):
                    while True:
                        connection = await self._connection()
                        try:
                            answer, keep = await self._exchange(connection, request)
                        except _StaleConnection:
                            connection.close()
                            continue  # an idle connection the bridge had closed: once more, on a new one
                        except BaseException:
                            connection.close()
                            raise
                        if keep and not self._closed:
                            connection.used = True
                            self._idle.append(connection)
                        else:
                            connection.close()
                        return answer
            except TimeoutError:
                raise BridgeTimeout(f"no answer from the bridge within {timeout:g}s") from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                raise BridgeUnreachable(f"bridge unreachable: {exc!s} ({type(exc).__name__})") from None

    async def _connection(self) -> _Connection:
        if self._idle:
            return self._idle.pop()
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(self._host, self._port, limit=MAX_HEADER_BYTES)
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, request: bytes) -> tuple[Answer, bool]:
        """Send the request, read the answer; and whether the connection can be used again."""
        try:
            connection.writer.write(request)
            await connection.writer.drain()
            head = await connection.reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            if connection.used and (not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial):
                raise _StaleConnection from exc
            raise
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


class _StaleConnection(Exception):
    """A reused connection failed before any byte of the answer: the request may be sent again."""
