"""The one way the services and tools open a Valkey client.

An address is ``host:port`` (that server) or ``sentinel://host:port[,host:port...]/<primary name>``: the
client asks the Sentinels which server is the primary, and asks again when it fails or turns out to be a
replica (after a failover), so a command retried after a failover reaches the new primary.

Every client logs in as its own Valkey user (``user`` and ``password``: the chart's users.acl says what each
may do); the Sentinels know the same users with the same passwords, so one login serves both. Without a
user, the password is the default user's (a Valkey without users). With a CA file (``ca_file``), the
client speaks TLS to the servers and the Sentinels and trusts only that CA.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import valkey
from valkey.sentinel import Sentinel

from blackfriday.settings import split_hostport

SENTINEL_SCHEME = "sentinel://"


@dataclass(frozen=True, slots=True)
class Login:
    """A Valkey user and its password (kept out of the repr: logging a login never shows it), and the CA to
    trust for TLS (empty: no TLS)."""

    user: str = ""
    password: str | None = field(default=None, repr=False)
    ca_file: str = ""

    def env(self) -> dict[str, str]:
        """VALKEY_USER, VALKEY_PASSWORD and VALKEY_CA_FILE for a process that logs in as this user."""
        env = {"VALKEY_USER": self.user} if self.user else {}
        if self.password:
            env["VALKEY_PASSWORD"] = self.password
        if self.ca_file:
            env["VALKEY_CA_FILE"] = self.ca_file
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Login:
        """The login in VALKEY_USER, VALKEY_PASSWORD and VALKEY_CA_FILE (blank: none)."""

        def get(name: str) -> str:
            return (environ.get(name) or "").strip()

        return cls(get("VALKEY_USER"), get("VALKEY_PASSWORD") or None, get("VALKEY_CA_FILE"))


def connect(
    addr: str,
    password: str | None,
    db: int = 0,
    timeout: float = 10.0,
    *,
    user: str | None = None,
    ca_file: str | None = None,
) -> valkey.Valkey:
    """A client of the Valkey primary at ``addr``, logged in as ``user`` (the default user when None), over
    TLS trusting ``ca_file`` when given; ``timeout`` bounds connecting and every reply."""
    login: dict[str, Any] = {"password": password, "username": user or None}
    if ca_file:
        login.update(ssl=True, ssl_ca_certs=ca_file, ssl_cert_reqs="required")
    if addr.startswith(SENTINEL_SCHEME):
        sentinels, _, primary = addr.removeprefix(SENTINEL_SCHEME).partition("/")
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            [split_hostport(item.strip()) for item in sentinels.split(",") if item.strip()],
            sentinel_kwargs={**login, "socket_timeout": timeout, "socket_connect_timeout": timeout},
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        client: valkey.Valkey = sentinel.master_for(primary, db=db, **login)  # type: ignore[no-untyped-call]
        return client
    host, port = split_hostport(addr)
    return valkey.Valkey(host=host, port=port, db=db, socket_timeout=timeout, socket_connect_timeout=timeout, **login)


def connect_as(addr: str, login: Login, db: int = 0, timeout: float = 10.0) -> valkey.Valkey:
    """``connect`` with a Login."""
    return connect(addr, login.password, db, timeout, user=login.user or None, ca_file=login.ca_file or None)
