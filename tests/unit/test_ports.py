"""free_port hands out ports that no outgoing connection can take before the server binds them."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from bftools.runtime import ports


def test_a_free_port_lies_below_the_ephemeral_range_and_is_never_handed_out_twice() -> None:
    low, high = ports._unclaimed_range()
    handed = [ports.free_port() for _ in range(50)]
    assert len(set(handed)) == len(handed)
    assert all(low <= port < high for port in handed)
    ephemeral_start = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(port < ephemeral_start for port in handed)


def test_a_port_a_server_holds_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", ports.free_port()))
    server.listen()
    taken = server.getsockname()[1]
    try:
        choices = iter([taken, taken + 1])
        monkeypatch.setattr(ports._random, "randrange", lambda low, high: next(choices))
        assert ports.free_port() != taken
    finally:
        server.close()


def test_the_range_falls_back_when_the_kernel_range_cannot_be_read(tmp_path: Path) -> None:
    assert ports._unclaimed_range(str(tmp_path / "absent")) == (20000, 32768)
    narrow = tmp_path / "range"
    narrow.write_text("1024\t65000\n")
    assert ports._unclaimed_range(str(narrow)) == (20000, 32768)
    narrow.write_text("32768\t60999\n")
    assert ports._unclaimed_range(str(narrow)) == (10000, 32768)


def test_a_port_another_process_reserved_is_not_handed_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ports, "_reservations", tmp_path / "reserved")
    first = ports.free_port()
    assert (tmp_path / "reserved" / str(first)).is_file()
    ports._handed_out.discard(first)  # as if another process: only the reservation file says it is taken
    choices = iter([first, first + 1])
    monkeypatch.setattr(ports._random, "randrange", lambda low, high: next(choices))
    assert ports.free_port() == first + 1


def test_a_stale_reservation_is_dropped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reserved = tmp_path / "reserved"
    reserved.mkdir()
    stale, fresh = reserved / "20001", reserved / "20002"
    stale.touch()
    fresh.touch()
    old = time.time() - ports.RESERVATION_SECONDS - 5
    os.utime(stale, (old, old))
    monkeypatch.setattr(ports, "_reservations", reserved)
    ports._drop_stale_reservations()
    assert not stale.exists()
    assert fresh.exists()
