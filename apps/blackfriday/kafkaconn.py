"""How the services open their Kafka clients: where Kafka is, and how they prove who they are.

KAFKA_SECURITY_PROTOCOL says how a client talks to the brokers:

- ``PLAINTEXT``: no TLS and no login. Anyone who reaches a broker can write a "sale" the dashboard counts,
  or read every sale: only for a Kafka on a network nobody else reaches.
- ``SASL_SSL``: TLS (each broker's certificate checked against KAFKA_CA_FILE, or the system's CAs, and
  its host name against the certificate), then a SASL login as KAFKA_USERNAME with KAFKA_PASSWORD
  (SCRAM-SHA-512 by default: the password itself never crosses the wire). What the chart and the local
  stack use; the broker then allows each user only what its service needs (docs/kafka-access.md).
- ``SSL``: TLS without a login (a Kafka that authenticates nobody but should not be read on the wire).

The settings are checked together at start (``KafkaSecurity.check``): a missing or inconsistent one stops
the service with a line naming the variable. The password is never logged (it is out of every repr).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from blackfriday import settings as s
from blackfriday.settings import Env, SettingsError


class KafkaSettings(Protocol):
    """The Kafka fields of a service's settings (blackfriday.settings.kafka_*)."""

    @property
    def kafka_security_protocol(self) -> str: ...
    @property
    def kafka_sasl_mechanism(self) -> str: ...
    @property
    def kafka_username(self) -> str: ...
    @property
    def kafka_password(self) -> str | None: ...
    @property
    def kafka_ca_file(self) -> str: ...


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How a Kafka client authenticates; ``client_config()`` are kafka-python's keys for it."""

    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str | None = field(default=None, repr=False)
    ca_file: str = ""

    @classmethod
    def of(cls, settings: KafkaSettings) -> KafkaSecurity:
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_username,
            password=settings.kafka_password,
            ca_file=settings.kafka_ca_file,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> KafkaSecurity:
        """The KAFKA_* security variables of ``environ`` (for a tool that has no settings class), checked."""
        env = Env(environ)

        def read(declaration: Any) -> Any:
            return env.read(declaration.metadata["spec"])

        security = cls(
            protocol=read(s.kafka_security_protocol()),
            mechanism=read(s.kafka_sasl_mechanism()),
            username=read(s.kafka_username()),
            password=read(s.kafka_password()),
            ca_file=read(s.kafka_ca_file()),
        )
        security.check()
        return security

    @property
    def tls(self) -> bool:
        return self.protocol in ("SASL_SSL", "SSL")

    @property
    def sasl(self) -> bool:
        return self.protocol == "SASL_SSL"

    def check(self) -> None:
        """SettingsError naming the variable when the settings are missing or do not fit together."""
        if not self.sasl:
            for name, value in (("KAFKA_USERNAME", self.username), ("KAFKA_PASSWORD", self.password)):
                if value:
                    raise SettingsError(
                        f"{name}: set, but KAFKA_SECURITY_PROTOCOL is {self.protocol}, which has no login: "
                        "use SASL_SSL, or leave it empty"
                    )
        else:
            if not self.username:
                raise SettingsError("KAFKA_USERNAME: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL")
            if not self.password:
                raise SettingsError("KAFKA_PASSWORD: required with KAFKA_SECURITY_PROTOCOL=SASL_SSL")
        if not self.ca_file:
            return
        if not self.tls:
            raise SettingsError(
                f"KAFKA_CA_FILE: set, but KAFKA_SECURITY_PROTOCOL is {self.protocol}, which has no TLS: "
                "use SASL_SSL or SSL, or leave it empty"
            )
        if not Path(self.ca_file).is_file():
            raise SettingsError(f"KAFKA_CA_FILE: no such file {self.ca_file!r}")
        try:
            ssl.create_default_context(cafile=self.ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise SettingsError(
                f"KAFKA_CA_FILE: {self.ca_file!r} is not a readable PEM certificate file: {exc}"
            ) from None

    def client_config(self) -> dict[str, Any]:
        """The security keys of a KafkaProducer, KafkaConsumer or KafkaAdminClient."""
        config: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            config.update(ssl_check_hostname=True, ssl_cafile=self.ca_file or None)
        if self.sasl:
            config.update(
                sasl_mechanism=self.mechanism, sasl_plain_username=self.username, sasl_plain_password=self.password
            )
        return config

    def env(self) -> dict[str, str]:
        """The environment variables that give a service these settings (the local stack's launcher)."""
        env = {"KAFKA_SECURITY_PROTOCOL": self.protocol, "KAFKA_CA_FILE": self.ca_file}
        if self.sasl:
            env.update(KAFKA_SASL_MECHANISM=self.mechanism, KAFKA_USERNAME=self.username)
            env["KAFKA_PASSWORD"] = self.password or ""
        return env
