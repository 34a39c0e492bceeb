"""Ports: finding free ones, and refusing taken ones with a clear message."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Final


class PortTaken(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, outside the kernel's ephemeral range, reserved for this caller.

    A port the kernel hands out (bind to 0) is one it may hand out again as the local port of any outgoing
    connection: a broker's or a client's connection can take it before our server binds it, or while a
    killed server is being restarted on it ("Address already in use"). Ports outside the ephemeral range are
    never taken that way. Each is checked bindable and reserved across processes (``claim``), so that two
    test workers choosing at the same moment never both get it while neither has bound it yet.
    """
    low, high = unclaimed_range()
    for _ in range(200):
        port = _random.randrange(low, high)
        if port not in _handed_out and is_free(port, host, reuse=False) and _reserve(port):
            _handed_out.add(port)
            return port
    raise PortTaken(f"no free port between {low} and {high} on {host}")


def claim(port: int) -> None:
    """Renew this process's reservation of a port it (re)starts a server on: a stack that runs for hours
    restarts its servers on the ports it was handed, which must not be handed to anyone else meanwhile."""
    path = _directory() / str(port)
    try:
        path.touch(mode=0o600)
    except OSError as exc:
        raise PortTaken(f"cannot reserve port {port} in {path.parent}: {exc.strerror}") from None


#: How long a reservation lasts since it was made or last claimed: far longer than a server takes to bind.
RESERVATION_SECONDS: Final = 600.0
_handed_out: set[int] = set()
_random = random.SystemRandom()
_reservations = Path(tempfile.gettempdir()) / f"bf-ports-{os.getuid()}"
_checked: Path | None = None  # the directory _directory() last found usable


def _directory() -> Path:
    """The reservations' directory, made if missing; PortTaken when it cannot be used or is not this user's
    own (another user could otherwise block or free ports at will). Checked once per process; stale
    reservations are dropped then."""
    global _checked
    if _checked == _reservations:
        return _reservations
    try:
        _reservations.mkdir(mode=0o700, exist_ok=True)
        found = os.lstat(_reservations)
    except OSError as exc:
        raise PortTaken(f"cannot reserve ports in {_reservations}: {exc.strerror}") from None
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        raise PortTaken(
            f"cannot reserve ports in {_reservations}: not a directory of this user's own with mode 0700 "
            "(remove it: it is made again)"
        )
    _checked = _reservations
    _drop_stale_reservations()
    return _reservations


def _reserve(port: int) -> bool:
    """True when this process now holds the port's reservation (none, or only a stale one, existed)."""
    path = _directory() / str(port)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    except OSError as exc:
        raise PortTaken(f"cannot reserve port {port} in {path.parent}: {exc.strerror}") from None
    return True


def _drop_stale_reservations() -> None:
    """Forget reservations older than RESERVATION_SECONDS (their servers bound the ports long ago, or never
    will)."""
    oldest = time.time() - RESERVATION_SECONDS
    try:
        entries = list(_reservations.iterdir())
    except OSError as exc:
        raise PortTaken(f"cannot read the port reservations in {_reservations}: {exc.strerror}") from None
    for path in entries:
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < oldest:
                path.unlink()


def unclaimed_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    """Ports [low, high) outside the kernel's ephemeral range: from 10000 up to its start, or else above its
    end; 20000-32768 when it cannot be read or leaves no room (the race with outgoing connections is back)."""
    try:
        first, last = (int(field) for field in Path(path).read_text().split()[:2])
    except (OSError, ValueError):
        return 20000, 32768
    if first > 12000:
        return 10000, first
    if last < 64535:
        return last + 1, 65536
    return 20000, 32768


def is_free(port: int, host: str = "127.0.0.1", *, reuse: bool = True) -> bool:
    """True when a server could listen on the port: with SO_REUSEADDR, as servers set it (TIME_WAIT is fine);
    ``reuse=False``: nothing at all holds it, not even a connection in TIME_WAIT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if reuse:
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
