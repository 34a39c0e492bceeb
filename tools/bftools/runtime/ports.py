"""Ports: finding free ones, and refusing taken ones with a clear message."""

from __future__ import annotations

import contextlib
import socket


class PortTaken(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


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
