"""The one way the services and tools open a Valkey client.

An address is ``host:port`` (that server) or ``sentinel://host:port[,host:port...]/<primary name>``: the
client asks the Sentinels which server is the primary, and asks again when it fails or turns out to be a
replica (after a failover), so a command retried after a failover reaches the new primary. The Sentinels
take the same password as the servers.
"""

from __future__ import annotations

import valkey
from valkey.sentinel import Sentinel

from blackfriday.settings import split_hostport

SENTINEL_SCHEME = "sentinel://"


def connect(addr: str, password: str | None, db: int = 0, timeout: float = 10.0) -> valkey.Valkey:
    """A client of the Valkey primary at ``addr``; ``timeout`` bounds connecting and every reply."""
    if addr.startswith(SENTINEL_SCHEME):
        sentinels, _, primary = addr.removeprefix(SENTINEL_SCHEME).partition("/")
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            [split_hostport(item.strip()) for item in sentinels.split(",") if item.strip()],
            sentinel_kwargs={"password": password, "socket_timeout": timeout, "socket_connect_timeout": timeout},
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        client: valkey.Valkey = sentinel.master_for(primary, password=password, db=db)  # type: ignore[no-untyped-call]
        return client
    host, port = split_hostport(addr)
    return valkey.Valkey(
        host=host, port=port, password=password, db=db, socket_timeout=timeout, socket_connect_timeout=timeout
    )
