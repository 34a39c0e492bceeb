"""Ports: finding free ones, and refusing taken ones with a clear message."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import tempfile
import time
from pathlib import Path
from typing import Final


class PortTaken(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, below the kernel's ephemeral range, reserved for this caller.

    A port the kernel hands out (bind to 0) is one it may hand out again as the local port of any outgoing
    connection: a broker's or a client's connection can take it before our server binds it, or while a
    killed server is being restarted on it ("Address already in use"). Ports below the ephemeral range are
    never taken that way. Each is checked bindable and reserved for RESERVATION_SECONDS across processes (a
    file created exclusively in a directory of the user's own), so that two test workers choosing at the
    same moment never both get it while neither has bound it yet.
    """
    low, high = _unclaimed_range()
    _drop_stale_reservations()
    for _ in range(200):
        port = _random.randrange(low, high)
        if port not in _handed_out and _bindable(port, host) and _reserve(port):
            _handed_out.add(port)
            return port
    raise PortTaken(f"no free port between {low} and {high} on {host}")


#: How long a port handed out stays reserved: far longer than any server takes to bind it.
RESERVATION_SECONDS: Final = 600.0
_handed_out: set[int] = set()
_random = random.SystemRandom()
_reservations = Path(tempfile.gettempdir()) / f"bf-ports-{os.getuid()}"


def _reserve(port: int) -> bool:
    """True when this process now holds the port's reservation (none, or only a stale one, existed)."""
    _reservations.mkdir(mode=0o700, exist_ok=True)
    path = _reservations / str(port)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


def _drop_stale_reservations() -> None:
    """Forget reservations older than RESERVATION_SECONDS (their servers bound the ports long ago, or never
    will)."""
    if not _reservations.is_dir():
        return
    oldest = time.time() - RESERVATION_SECONDS
    for path in _reservations.iterdir():
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < oldest:
                path.unlink()


def _unclaimed_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    """The ports from 10000 up to the start of the ephemeral range (20000-32768 if it cannot be read)."""
    try:
        first = int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 20000, 32768
    return (10000, first) if first > 12000 else (20000, 32768)


def _bindable(port: int, host: str) -> bool:
    """True when a socket without SO_REUSEADDR can bind it (nothing, not even TIME_WAIT, holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on the port (SO_REUSEADDR, as servers set it: TIME_WAIT is fine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ensure_free(port: int, what: str, variable: str | None = None, host: str = "127.0.0.1") -> None:
    if not is_free(port, host):
        hint = f" (set {variable} to use another port)" if variable else ""
        raise PortTaken(f"{what}: port {host}:{port} is already in use{hint}")


def accepts(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False
