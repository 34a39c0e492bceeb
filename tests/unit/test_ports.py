"""free_port hands out ports that no outgoing connection can take before the server binds it, and that no
other process is handed meanwhile."""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path

import pytest

from bftools.runtime import ports


@pytest.fixture(autouse=True)
def own_reservations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test with reservations of its own (not the machine's shared directory) and a fresh process."""
    directory = tmp_path / "reserved"
    monkeypatch.setattr(ports, "_reservations", directory)
    monkeypatch.setattr(ports, "_handed_out", set())
    return directory


def scripted(monkeypatch: pytest.MonkeyPatch, *choices: int) -> None:
    """free_port's random choices: these first, then random ones."""
    queue = list(choices)
    fallback = random.Random(7)
    monkeypatch.setattr(
        ports._random, "randrange", lambda low, high: queue.pop(0) if queue else fallback.randrange(low, high)
    )


def test_a_free_port_lies_outside_the_ephemeral_range_and_is_never_handed_out_twice() -> None:
    first, last = (int(f) for f in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[:2])
    handed = [ports.free_port() for _ in range(50)]
    assert len(set(handed)) == len(handed)
    assert not any(first <= port <= last for port in handed), (first, last)


def test_a_port_a_server_holds_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    low, high = ports.unclaimed_range()
    server = socket.socket()
    taken = next(p for p in range(low, high) if ports.is_free(p, reuse=False))
    server.bind(("127.0.0.1", taken))
    server.listen()
    try:
        scripted(monkeypatch, taken)
        assert ports.free_port() != taken
    finally:
        server.close()


def test_a_port_another_process_reserved_is_not_handed_out(
    monkeypatch: pytest.MonkeyPatch, own_reservations: Path
) -> None:
    first = ports.free_port()
    assert (own_reservations / str(first)).is_file()
    ports._handed_out.clear()  # as if another process: only the reservation says it is taken
    scripted(monkeypatch, first)
    assert ports.free_port() != first


def test_a_stale_reservation_is_dropped_and_a_claimed_one_kept(own_reservations: Path) -> None:
    own_reservations.mkdir(mode=0o700)
    stale, claimed = own_reservations / "20001", own_reservations / "20002"
    old = time.time() - ports.RESERVATION_SECONDS - 5
    for path in (stale, claimed):
        path.touch()
        os.utime(path, (old, old))
    ports.claim(20002)  # a server restarted on its port renews the reservation
    ports._drop_stale_reservations()
    assert not stale.exists()
    assert claimed.exists()


def test_a_reservation_directory_that_is_not_the_users_own_is_refused_by_name(own_reservations: Path) -> None:
    own_reservations.mkdir(mode=0o777)
    own_reservations.chmod(0o777)  # anyone could add or remove reservations
    with pytest.raises(ports.PortTaken, match=f"cannot reserve ports in {own_reservations}: not a directory"):
        ports.free_port()
    own_reservations.rmdir()
    own_reservations.write_text("a file in its place")
    with pytest.raises(ports.PortTaken, match=f"cannot reserve ports in {own_reservations}"):
        ports.free_port()


def test_the_range_is_outside_the_kernels_or_falls_back(tmp_path: Path) -> None:
    assert ports.unclaimed_range(str(tmp_path / "absent")) == (20000, 32768)
    kernel = tmp_path / "range"
    kernel.write_text("32768\t60999\n")
    assert ports.unclaimed_range(str(kernel)) == (10000, 32768)
    kernel.write_text("1024\t50000\n")
    assert ports.unclaimed_range(str(kernel)) == (50001, 65536)
    kernel.write_text("1024\t65000\n")
    assert ports.unclaimed_range(str(kernel)) == (20000, 32768)  # no room: the fallback
