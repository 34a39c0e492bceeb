"""The one way the services and tools open a Valkey client."""

from __future__ import annotations

import valkey

from blackfriday.settings import split_hostport


def connect(addr: str, password: str | None, db: int = 0, timeout: float = 10.0) -> valkey.Valkey:
    """A client of the Valkey at ``addr`` (host:port); ``timeout`` bounds connecting and every reply."""
    host, port = split_hostport(addr)
    return valkey.Valkey(
        host=host, port=port, password=password, db=db, socket_timeout=timeout, socket_connect_timeout=timeout
    )
