"""Settings from environment variables: one declaration per variable, every bad value stops start-up naming it.

Each service has one frozen settings dataclass whose fields are declared with the functions below
(``port``, ``integer``, ``url``, ...). That declaration is the one list of a service's settings: ``load``
reads the environment from it, and the chart generator (bftools.chartgen) writes from it the
`config:` schema of the service's subchart and docs/configuration.md. A `config:` key the service does not
read therefore fails `helm install` naming the key.

A setting marked ``wired`` is set by the chart itself (addresses of the other components, ports, secrets,
the log level): it is not a `config:` key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, Self

from blackfriday.envvalues import LOG_LEVELS as LOG_LEVELS
from blackfriday.envvalues import PARSERS, split_hostports
from blackfriday.envvalues import SettingsError as SettingsError
from blackfriday.sale import Category

Kind = Literal[
    "text",
    "secret",
    "integer",
    "number",
    "port",
    "hostport",
    "hostports",
    "valkey",
    "url",
    "target",
    "category",
    "log_level",
    "choice",
]

HTTP_SERVERS: Final = ("hypercorn", "granian")


@dataclass(frozen=True, slots=True)
class Spec:
    """One environment variable a service reads: its kind, default, bounds and meaning."""

    name: str
    kind: Kind
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    #: Set by the chart from its own values and helpers, not through the subchart's `config:` map.
    wired: bool = False
    #: The values a "choice" setting takes.
    choices: tuple[str, ...] = ()


def _declare(spec: Spec) -> Any:
    # A secret stays out of the settings' repr, so that logging the settings never shows it.
    return dataclasses.field(metadata={"spec": spec}, repr=spec.kind != "secret")


def text(name: str, default: str, doc: str, *, wired: bool = False) -> Any:
    return _declare(Spec(name, "text", default, doc, wired=wired))


def secret(name: str, doc: str) -> Any:
    """An optional secret (None when unset); never logged. Always wired: it comes from a Secret."""
    return _declare(Spec(name, "secret", None, doc, wired=True))


def integer(
    name: str, default: int, doc: str, *, minimum: int | None = None, maximum: int | None = None, wired: bool = False
) -> Any:
    return _declare(Spec(name, "integer", default, doc, minimum, maximum, wired))


def number(
    name: str,
    default: float,
    doc: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    wired: bool = False,
) -> Any:
    return _declare(Spec(name, "number", default, doc, minimum, maximum, wired))


def port(name: str, default: int, doc: str) -> Any:
    """A port to listen on; the chart sets it from its port table (bf-common's bf.ports)."""
    return _declare(Spec(name, "port", default, doc, 0, 65535, wired=True))


def hostport(name: str, default: str, doc: str) -> Any:
    return _declare(Spec(name, "hostport", default, doc, wired=True))


def hostports(name: str, default: str, doc: str) -> Any:
    return _declare(Spec(name, "hostports", default, doc, wired=True))


def valkey_addr() -> Any:
    """Where the Valkey primary is: every client of it (consumer, report, helm test) reads this."""
    return _declare(
        Spec(
            "VALKEY_ADDR",
            "valkey",
            "localhost:6379",
            "the Valkey primary: host:port, or sentinel://host:port[,host:port...]/<primary name> to ask Sentinel "
            "which server is the primary (and again after a failover)",
            wired=True,
        )
    )


def valkey_user() -> Any:
    """The Valkey user a service logs in as (the chart sets each service's own: consumer, reader, monitor)."""
    return text("VALKEY_USER", "", "the Valkey user to log in as (empty: the default user)", wired=True)


def valkey_password() -> Any:
    return secret("VALKEY_PASSWORD", "the Valkey user's password, from a Secret (none by default); never logged")


def valkey_ca_file() -> Any:
    return text(
        "VALKEY_CA_FILE",
        "",
        "the CA certificates (PEM file) that signed the Valkey servers' and Sentinels' certificates: TLS to "
        "them (global.valkey.tls); empty: no TLS",
        wired=True,
    )


def url(name: str, default: str, doc: str) -> Any:
    return _declare(Spec(name, "url", default, doc, wired=True))


def target(name: str, default: str, doc: str) -> Any:
    """A gRPC target: host:port, or dns:///name:port to balance over every address of a name."""
    return _declare(Spec(name, "target", default, doc, wired=True))


def category(name: str, default: Category, doc: str, *, wired: bool = False) -> Any:
    return _declare(Spec(name, "category", default, doc, wired=wired))


# Settings every service (or every server) has, declared once.
def listen_host() -> Any:
    return text("LISTEN_HOST", "0.0.0.0", "address to listen on", wired=True)  # noqa: S104 - a server in a container


def graceful_timeout() -> Any:
    return number(
        "GRACEFUL_TIMEOUT_SECONDS",
        10.0,
        "on SIGTERM, how long in-flight work may take to finish (keep it below the pod's grace period)",
        minimum=0,
    )


def keep_alive_timeout() -> Any:
    return number(
        "KEEP_ALIVE_TIMEOUT_SECONDS",
        65.0,
        "an idle keep-alive connection is closed after this long, or sooner when a new connection needs its "
        "slot at MAX_CONNECTIONS (keep it above a proxy's upstream keep-alive timeout: NGINX's is 60 s)",
        minimum=1,
    )


def header_timeout() -> Any:
    return number(
        "HEADER_TIMEOUT_SECONDS",
        5.0,
        "a request's head (request line and headers) must arrive within this long of the connection's start, "
        "or of the first byte of a next request on a keep-alive connection; otherwise 408 and closed",
        minimum=0.1,
        maximum=10,
    )


def drain_idle() -> Any:
    return number(
        "DRAIN_IDLE_SECONDS",
        2.0,
        "on SIGTERM, a connection is closed once it has been idle this long (a request that arrives before is "
        "answered, with Connection: close); keep it below GRACEFUL_TIMEOUT_SECONDS",
        minimum=0,
        maximum=60,
    )


def body_timeout() -> Any:
    return number(
        "BODY_TIMEOUT_SECONDS", 10.0, "a request whose body is not received within this long gets 408", minimum=0.1
    )


def max_connections() -> Any:
    return integer(
        "MAX_CONNECTIONS",
        1024,
        "open client connections at most; at the limit a new one takes the slot of the connection idle the "
        "longest, and is answered 503 with Retry-After and closed only when every one is busy",
        minimum=1,
        maximum=1_000_000,
    )


def choice(name: str, default: str, doc: str, choices: tuple[str, ...], *, wired: bool = False) -> Any:
    """One of ``choices``, in any case (stored as declared)."""
    return _declare(Spec(name, "choice", default, doc, choices=choices, wired=wired))


def http_server() -> Any:
    return choice(
        "HTTP_SERVER",
        "hypercorn",
        "the HTTP server: hypercorn (the design's), or granian (a Rust server; how the two compare: "
        "docs/performance.md)",
        HTTP_SERVERS,
    )


def log_level() -> Any:
    return _declare(
        Spec("LOG_LEVEL", "log_level", "INFO", "DEBUG, INFO, WARNING, ERROR; logs are JSON lines on stdout", wired=True)
    )


def kafka_brokers() -> Any:
    return hostports("KAFKA_BROKERS", "localhost:9092", "Kafka bootstrap servers, comma-separated host:port")


def kafka_topic() -> Any:
    return text("KAFKA_TOPIC", "sales-topic", "the sales topic", wired=True)


#: How a client talks to Kafka: in the clear (no authentication), TLS with a SASL login, TLS alone.
KAFKA_PROTOCOLS: Final = ("PLAINTEXT", "SASL_SSL", "SSL")
#: The SASL logins kafka-python offers that fit a user name and password (SCRAM never sends the password).
KAFKA_MECHANISMS: Final = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


# How every Kafka client of a service authenticates (blackfriday.kafkaconn checks that they fit together).
def kafka_security_protocol() -> Any:
    return choice(
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT (no TLS, no authentication: only for a Kafka on a trusted network), SASL_SSL (TLS and a "
        "SASL login: KAFKA_USERNAME, KAFKA_PASSWORD) or SSL (TLS, no login)",
        KAFKA_PROTOCOLS,
        wired=True,
    )


def kafka_sasl_mechanism() -> Any:
    return choice(
        "KAFKA_SASL_MECHANISM",
        "SCRAM-SHA-512",
        "the SASL login with SASL_SSL (PLAIN sends the password itself, inside the TLS)",
        KAFKA_MECHANISMS,
        wired=True,
    )


def kafka_username() -> Any:
    return text("KAFKA_USERNAME", "", "the Kafka user (with SASL_SSL)", wired=True)


def kafka_password() -> Any:
    return secret("KAFKA_PASSWORD", "the Kafka user's password (with SASL_SSL), from a Secret; never logged")


def kafka_ca_file() -> Any:
    return text(
        "KAFKA_CA_FILE",
        "",
        "the CA certificates (PEM file) that signed the brokers' certificates, with SASL_SSL or SSL; empty: the "
        "system's trusted CAs",
        wired=True,
    )


class Env:
    """A view of the environment with typed, validated getters."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def read(self, spec: Spec) -> Any:
        """The value of one declared setting (its default when unset or blank)."""
        value = self.raw(spec.name)
        if spec.kind == "secret":
            return value
        result = spec.default if value is None else PARSERS[spec.kind](spec.name, value)
        if isinstance(result, int | float) and not isinstance(result, bool):
            _check_range(spec.name, result, spec.minimum, spec.maximum)
        if spec.kind == "hostports" and isinstance(result, str):
            result = split_hostports(spec.name, result)
        if spec.kind == "choice":
            result = _choice(spec, result)
        return result

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def integer(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
        result: int = self.read(Spec(name, "integer", default, "", minimum, maximum))
        return result

    def hostport(self, name: str, default: str) -> str:
        result: str = self.read(Spec(name, "hostport", default, ""))
        return result

    def valkey(self, name: str, default: str) -> str:
        result: str = self.read(Spec(name, "valkey", default, ""))
        return result

    def category(self, name: str, default: Category) -> Category:
        result: Category = self.read(Spec(name, "category", default, ""))
        return result


def _choice(spec: Spec, value: str) -> str:
    """The declared spelling of ``value`` among the spec's choices (any case)."""
    for choice in spec.choices:
        if choice.lower() == value.lower():
            return choice
    raise SettingsError(f"{spec.name}: expected one of {', '.join(spec.choices)}, got {value!r}")


def plain(value: float) -> str:
    """A bound as people write it: 1000000, 0.1 (never 1e+06 or 10.0)."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}: must be at least {plain(minimum)}, got {plain(value)}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}: must be at most {plain(maximum)}, got {plain(value)}")


class FromEnv:
    """Base of the settings dataclasses: ``from_env`` reads every declared field."""

    __slots__ = ()
    #: The service these settings belong to (bf-<service>), for messages and the generated docs.
    SERVICE: ClassVar[str]
    #: Every service has a log level (declared with ``log_level()``).
    log_level: str

    @classmethod
    def specs(cls) -> list[Spec]:
        return [f.metadata["spec"] for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Self:
        env = Env(environ)
        values = {f.name: env.read(f.metadata["spec"]) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**values)


@dataclass(frozen=True, slots=True)
class HttpServerSettings(FromEnv):
    """What every HTTP service (api, bridge) reads about serving: blackfriday.httpserver uses these.

    A service's own class redeclares ``listen_port`` with its default and what it serves there.
    """

    listen_host: str = listen_host()
    listen_port: int = port("LISTEN_PORT", 8080, "the HTTP port")
    body_timeout_seconds: float = body_timeout()
    header_timeout_seconds: float = header_timeout()
    keep_alive_timeout_seconds: float = keep_alive_timeout()
    max_connections: int = max_connections()
    http_server: str = http_server()
    graceful_timeout_seconds: float = graceful_timeout()
    drain_idle_seconds: float = drain_idle()
    log_level: str = log_level()


def split_hostport(value: str) -> tuple[str, int]:
    """'host:port' -> (host, port); the value must have passed a hostport check."""
    host, _, port_text = value.rpartition(":")
    return host.strip("[]"), int(port_text)
