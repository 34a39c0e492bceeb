"""Reachability checks used by readiness probes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence

from blackfriday.settings import split_hostport


def tcp_reachable(addrs: Sequence[str], timeout: float = 1.0) -> bool:
    """True when at least one host:port accepts a TCP connection within ``timeout`` seconds."""
    for addr in addrs:
        host, port = split_hostport(addr)
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
            return True
    return False


async def tcp_reachable_async(addrs: Sequence[str], timeout: float = 1.0) -> bool:
    for addr in addrs:
        host, port = split_hostport(addr)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False
