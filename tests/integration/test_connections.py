"""The api's connections on the real server (the bf-api process alone: these answers need no bridge).

- a connection the client closed frees its slot at once (Hypercorn held it until the keep-alive timeout);
- idle connections cannot hold MAX_CONNECTIONS: a new one takes the slot of the idlest; only busy
  connections make the api answer 503;
- a request head must arrive within HEADER_TIMEOUT_SECONDS: 408 and closed (a connection that sends
  nothing is closed);
- draining (SIGTERM): a request on an open connection is answered, with Connection: close; an idle
  connection is closed only after DRAIN_IDLE_SECONDS; the process exits 0.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time

import pytest

from bftools.runtime.process import Proc
from bftools.stack.services import Pipeline, http_ok
from tests.integration.helpers import metric, until

pytestmark = pytest.mark.integration

HEALTHZ = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"


@pytest.fixture
def api(pipeline: Pipeline) -> Pipeline:
    """The api alone (no bridge behind it), with few connections and short timeouts."""
    pipeline.extra_env["api"].update(
        {
            "MAX_CONNECTIONS": "8",
            "HEADER_TIMEOUT_SECONDS": "1.5",
            "KEEP_ALIVE_TIMEOUT_SECONDS": "60",  # far longer than any wait below: nothing here is a keep-alive timeout
            "DRAIN_IDLE_SECONDS": "1.5",
            "BODY_TIMEOUT_SECONDS": "10",
            "GRACEFUL_TIMEOUT_SECONDS": "10",
        }
    )
    proc = pipeline.start("api", wait=False)
    until(lambda: http_ok(f"{pipeline.api_url}/healthz") or not proc.alive(), 30, "the api to answer /healthz")
    assert proc.alive()
    return pipeline


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """One whole answer (head and Content-Length body) from the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed the connection within ``seconds``, and what it sent before."""
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except TimeoutError:
        return False, data
    except ConnectionResetError:
        pass
    return True, data


def _connections(api: Pipeline) -> float:
    return metric(f"{api.api_url}/metrics", "bf_http_connections")


def test_a_connection_the_client_closed_frees_its_slot_at_once(api: Pipeline) -> None:
    socks = [_connect(api.api_port) for _ in range(6)]
    for sock in socks:
        sock.sendall(HEALTHZ)
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")  # each now an idle keep-alive connection
    until(lambda: _connections(api) == 7, 5, "the api to count the 6 connections (and the metrics one)")
    for sock in socks:
        sock.close()
    started = time.monotonic()
    until(lambda: _connections(api) == 1, 5, "the closed connections' slots to be freed")
    assert time.monotonic() - started < 5  # not KEEP_ALIVE_TIMEOUT_SECONDS (60 s)


def test_idle_connections_make_room_and_only_busy_ones_fill_the_bound(api: Pipeline) -> None:
    idle = [_connect(api.api_port) for _ in range(8)]  # MAX_CONNECTIONS: 8
    try:
        for sock in idle:
            sock.sendall(HEALTHZ)
            _answer(sock)
        with _connect(api.api_port) as newcomer:  # the bound is full of idle connections: it gets a slot
            newcomer.sendall(HEALTHZ)
            assert _answer(newcomer).startswith(b"HTTP/1.1 200 ")
            closed, _ = _closed_within(idle[0], 3)  # the one idle the longest made room
            assert closed
        assert metric(f"{api.api_url}/metrics", "bf_http_connections_evicted_total") >= 1
    finally:
        for sock in idle:
            sock.close()
    until(lambda: _connections(api) == 1, 5, "every slot to be free")

    busy = [_connect(api.api_port) for _ in range(8)]
    try:
        for sock in busy:  # each waits for its body: busy; the 100 Continue shows the api has its head
            sock.sendall(
                b"POST /purchase HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"content-length: 50\r\nexpect: 100-continue\r\n\r\n"
            )
            assert sock.recv(4096).startswith(b"HTTP/1.1 100 ")
        with _connect(api.api_port) as extra:
            extra.sendall(HEALTHZ)
            closed, answer = _closed_within(extra, 5)
        assert closed
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 1" in answer.lower()
        assert b'"too many connections"' in answer
    finally:
        for sock in busy:
            sock.close()
    until(lambda: metric(f"{api.api_url}/metrics", "bf_http_connections_refused_total") == 1, 5, "one refusal")


def test_a_request_head_that_does_not_arrive_in_time_is_408_and_closed(api: Pipeline) -> None:
    with _connect(api.api_port) as silent, _connect(api.api_port) as partial, _connect(api.api_port) as trickler:
        partial.sendall(b"POST /purchase HTTP/1.1\r\nhost: x\r\n")
        started = time.monotonic()
        for _ in range(6):  # a header line every 0.4 s, never the blank line
            with contextlib.suppress(OSError):
                trickler.sendall(b"x-slow: 1\r\n")
            time.sleep(0.4)
        elapsed = time.monotonic() - started
        closed_partial, answer = _closed_within(partial, 1)
        closed_trickler, _ = _closed_within(trickler, 1)
        closed_silent, nothing = _closed_within(silent, 1)
    assert elapsed < 10
    assert closed_partial
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"request timeout"' in answer
    assert closed_trickler  # bytes keep coming, but not a whole head within HEADER_TIMEOUT_SECONDS
    assert closed_silent
    assert nothing == b""  # nothing sent: closed without an answer
    assert metric(f"{api.api_url}/metrics", "bf_http_header_timeouts_total") >= 3


def test_a_keep_alive_connection_may_idle_but_not_dawdle_over_its_next_head(api: Pipeline) -> None:
    with _connect(api.api_port) as sock:
        sock.sendall(HEALTHZ)
        _answer(sock)
        time.sleep(2.5)  # idle past HEADER_TIMEOUT_SECONDS, well within KEEP_ALIVE_TIMEOUT_SECONDS
        sock.sendall(HEALTHZ)
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # then half a head
        closed, answer = _closed_within(sock, 4)
    assert closed
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_draining_api_answers_what_arrives_says_close_and_closes_idle_connections_late(api: Pipeline) -> None:
    proc: Proc = api.procs["api"]
    active, idle = _connect(api.api_port), _connect(api.api_port)
    try:
        for sock in (active, idle):
            sock.sendall(HEALTHZ)
            _answer(sock)
        proc.signal(signal.SIGTERM)
        until(lambda: not _listening(api.api_port), 5, "the api to stop accepting connections")
        active.sendall(HEALTHZ)  # a request racing the shutdown, on an open connection: answered
        answer = _answer(active)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert b"connection: close" in answer.lower()  # the client moves to another pod after it
        assert _closed_within(active, 3)[0]
        started = time.monotonic()
        closed, _ = _closed_within(idle, 5)
        assert closed
        assert time.monotonic() - started > 0.5  # kept open a while (DRAIN_IDLE_SECONDS), not cut at once
    finally:
        active.close()
        idle.close()
    until(lambda: not proc.alive(), 15, "the api to exit")
    assert proc.returncode == 0


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
