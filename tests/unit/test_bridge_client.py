"""The api's HTTP client for the bridge, against a real socket server in the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from blackfriday.api.bridge_client import BridgeClient, BridgeTimeout, BridgeUnreachable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    return head + await reader.readexactly(length)


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body


async def serve(handler: Handler) -> tuple[asyncio.Server, str]:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def test_requests_share_one_keep_alive_connection() -> None:
    connections: list[int] = []
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while not reader.at_eof():
            try:
                requests.append(await read_request(reader))
            except asyncio.IncompleteReadError:
                break
            writer.write(answer(b'{"ok": true}'))
            await writer.drain()

    async def main() -> list[int]:
        server, url = await serve(handler)
        client = BridgeClient(url, pool_size=1, connect_timeout=1, idle_seconds=5)
        statuses = [(await client.post_json("/forward/batch", b'{"sales": []}', 2)).status for _ in range(3)]
        await client.aclose()
        server.close()
        return statuses

    assert asyncio.run(main()) == [200, 200, 200]
    assert len(connections) == 1
    assert requests[0].startswith(b"POST /forward/batch HTTP/1.1\r\n")
    assert requests[0].endswith(b'\r\n\r\n{"sales": []}')


def test_a_connection_the_bridge_closed_while_idle_is_not_used_again() -> None:
    served: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        served.append(1)
        writer.write(answer(b"{}"))
        await writer.drain()
        writer.close()  # closes after one answer, without saying so (an idle connection closed)

    async def main() -> list[bytes]:
        server, url = await serve(handler)
        client = BridgeClient(url, pool_size=1, connect_timeout=1, idle_seconds=5)
        bodies = []
        for _ in range(3):
            bodies.append((await client.get("/readyz", 2)).body)
            await asyncio.sleep(0.05)  # the end of the stream reaches the client
        await client.aclose()
        server.close()
        return bodies

    assert asyncio.run(main()) == [b"{}", b"{}", b"{}"]
    assert len(served) == 3


def test_a_connection_idle_longer_than_idle_seconds_is_not_used_again() -> None:
    """A draining bridge closes a connection idle for its DRAIN_IDLE_SECONDS: the client gives it up first."""
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(answer(b"{}"))
            await writer.drain()

    async def main() -> None:
        server, url = await serve(handler)
        client = BridgeClient(url, pool_size=1, connect_timeout=1, idle_seconds=0.2)
        await client.get("/readyz", 2)
        await client.get("/readyz", 2)  # at once: the same connection
        await asyncio.sleep(0.3)
        await client.get("/readyz", 2)  # after 0.3 s idle: a new one
        await client.aclose()
        server.close()

    asyncio.run(main())
    assert len(connections) == 2


def test_a_request_is_never_sent_twice_when_the_bridge_drops_it() -> None:
    """The bridge reads the request and closes without an answer: the batch may be in Kafka, so the client
    must not send it again (it would be a second copy of every sale); the caller learns it may be stored."""
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await read_request(reader))

    async def main() -> None:
        server, url = await serve(handler)
        client = BridgeClient(url, pool_size=1, connect_timeout=1, idle_seconds=5)
        try:
            with pytest.raises(BridgeUnreachable) as caught:
                await client.post_json("/forward/batch", b'{"sales": []}', 2)
            assert caught.value.sent
        finally:
            await client.aclose()
            server.close()

    asyncio.run(main())
    assert len(requests) == 1


def test_a_bridge_that_comes_back_is_connected_to_within_the_deadline() -> None:
    """Refused connections are tried again: nothing was sent, so nothing can be stored twice."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"{}", b"connection: close\r\n"))
        await writer.drain()
        writer.close()

    async def main() -> int:
        placeholder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = placeholder.sockets[0].getsockname()[1]
        placeholder.close()
        await placeholder.wait_closed()
        client = BridgeClient(f"http://127.0.0.1:{port}", pool_size=1, connect_timeout=1, idle_seconds=5)
        request = asyncio.create_task(client.get("/readyz", 3))
        await asyncio.sleep(0.3)  # refused meanwhile
        server = await asyncio.start_server(handler, "127.0.0.1", port)
        status = (await request).status
        await client.aclose()
        server.close()
        return status

    assert asyncio.run(main()) == 200


def test_a_bridge_that_does_not_answer_in_time_is_a_timeout() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def main() -> None:
        server, url = await serve(handler)
        client = BridgeClient(url, pool_size=1, connect_timeout=1, idle_seconds=5)
        try:
            with pytest.raises(BridgeTimeout, match=r"within 0\.2s"):
                await client.post_json("/forward/batch", b"{}", 0.2)
        finally:
            await client.aclose()
            server.close()

    asyncio.run(main())


def test_nothing_listening_is_unreachable_and_nothing_was_sent() -> None:
    async def main() -> None:
        server, url = await serve(lambda reader, writer: asyncio.sleep(0))
        server.close()
        await server.wait_closed()
        client = BridgeClient(url, pool_size=1, connect_timeout=1, idle_seconds=5)
        with pytest.raises(BridgeUnreachable, match="bridge unreachable") as caught:
            await client.get("/readyz", 0.5)
        assert not caught.value.sent

    asyncio.run(main())


def test_connection_close_is_honoured_and_the_answer_read_whole() -> None:
    connections: list[int] = []
    body = b'{"results": [' + b",".join(b'{"partition": 1, "offset": %d}' % i for i in range(500)) + b"]}"

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await read_request(reader)
        writer.write(answer(body, b"connection: close\r\n"))
        await writer.drain()
        writer.close()

    async def main() -> list[bytes]:
        server, url = await serve(handler)
        client = BridgeClient(url, pool_size=2, connect_timeout=1, idle_seconds=5)
        got = [(await client.post_json("/forward/batch", b"{}", 2)).body for _ in range(2)]
        await client.aclose()
        server.close()
        return got

    assert asyncio.run(main()) == [body, body]
    assert len(connections) == 2
