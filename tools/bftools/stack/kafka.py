"""A real single-node Kafka broker (KRaft, broker and controller in one JVM) from the Maven jars.

Clients reach it on one SASL_SSL listener: TLS with a certificate for the address it listens on (signed
by a CA made with its storage, ``<home>/tls/ca.crt``: what clients trust), then a SCRAM-SHA-512 login.
Kafka's StandardAuthorizer allows each user only its ACLs (bftools.stack.kafka_access); ``admin`` is the
super user of the tooling. The passwords are random, made with the broker's storage and kept beside it in
``<home>/credentials.json`` (mode 0600, as the broker's own configuration): a restart keeps them, a fresh
storage has new ones. The controller listener stays on loopback, with a SASL PLAIN login as admin.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from bftools.runtime import paths
from bftools.runtime.files import write_private
from bftools.runtime.ports import accepts, claim
from bftools.runtime.process import NotReady, Proc, spawn, wait_ready
from bftools.stack import kafka_access, tls
from blackfriday.kafkaconn import KafkaSecurity

#: The topics of the local stack (the seed's name, and where the consumer keeps records that are not sales).
SALES_TOPIC = "sales-topic"
DEAD_LETTER_TOPIC = "sales-topic-dlq"
GROUP = "black-friday-group"

LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
# a refused login, with its reason ("invalid credentials with SASL mechanism SCRAM-SHA-512", "SSL
# handshake failed"): the client may see only the dropped connection
logger.logins.name = org.apache.kafka.common.network.Selector
logger.logins.level = INFO
"""

CA_VALIDITY = datetime.timedelta(days=3650)
CERT_VALIDITY = datetime.timedelta(days=825)


def _jaas(module: str, user: str, password: str, *extra: str) -> str:
    options = " ".join([f'username="{user}"', f'password="{password}"', *extra])
    return f"{module} required {options};"


@dataclass
class KafkaBroker:
    home: Path
    port: int
    controller_port: int
    heap: str = "512m"
    partitions: int = 3
    #: The address clients connect to (its SASL_SSL listener, advertised as is, in its certificate); the
    #: controller stays on loopback.
    host: str = "127.0.0.1"
    proc: Proc | None = field(default=None, init=False)
    _log_offset: int = field(default=0, init=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the broker's certificate: what its clients trust."""
        return self.home / "tls" / "ca.crt"

    @property
    def credentials_file(self) -> Path:
        return self.home / "credentials.json"

    # ---- credentials --------------------------------------------------------------------------------
    def passwords(self) -> dict[str, str]:
        """Each user's password (made with the storage)."""
        try:
            loaded: dict[str, str] = json.loads(self.credentials_file.read_text())
        except (OSError, ValueError):
            raise NotReady(f"the Kafka credentials {self.credentials_file} are missing: start the broker") from None
        return loaded

    def security(self, user: str = kafka_access.ADMIN) -> KafkaSecurity:
        """How ``user`` logs in (SASL_SSL, SCRAM-SHA-512, trusting the broker's CA)."""
        return KafkaSecurity("SASL_SSL", kafka_access.MECHANISM, user, self.passwords()[user], str(self.ca_file))

    def client_config(self, user: str = kafka_access.ADMIN) -> dict[str, Any]:
        """kafka-python's bootstrap_servers and security keys for ``user`` (the admin by default)."""
        return {"bootstrap_servers": self.bootstrap, **self.security(user).client_config()}

    def service_users(self) -> dict[str, KafkaSecurity]:
        """The login of each service that opens a Kafka client (writer, consumer), and of the tooling (admin)."""
        return {user: self.security(user) for user in kafka_access.USERS}

    def java_client_properties(self, user: str = kafka_access.ADMIN) -> Path:
        """A client properties file for Kafka's Java tools (kafka-producer-perf-test), mode 0600."""
        security = self.security(user)
        path = self.home / "clients" / f"{user}.properties"
        lines = [
            "security.protocol=SASL_SSL",
            f"sasl.mechanism={kafka_access.MECHANISM}",
            "sasl.jaas.config="
            + _jaas("org.apache.kafka.common.security.scram.ScramLoginModule", user, security.password or ""),
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.ca_file}",
            "",
        ]
        write_private(path, "\n".join(lines).encode())
        return path

    def _ensure_credentials(self, formatted: bool) -> dict[str, str]:
        if self.credentials_file.exists():
            return self.passwords()
        if formatted:
            raise NotReady(
                f"the Kafka storage in {self.home} has no credentials file {self.credentials_file.name}: "
                "start it fresh (make up FRESH=1)"
            )
        passwords = {user: secrets.token_urlsafe(24) for user in kafka_access.USERS}
        write_private(self.credentials_file, json.dumps(passwords, indent=2).encode())
        return passwords

    def _ensure_certificates(self) -> None:
        """The CA (kept with the storage: clients keep trusting it), and a broker certificate for its address."""
        key = self.home / "tls" / "ca.key"
        if not (self.ca_file.exists() and key.exists()):
            ca = tls.make_ca("black-friday local Kafka CA", CA_VALIDITY)
            write_private(key, ca.key_pem)
            self.ca_file.write_bytes(ca.cert_pem)
        ca = tls.Issued(self.ca_file.read_bytes(), key.read_bytes())
        broker = tls.issue_server(ca, "kafka", [self.host, "127.0.0.1", "localhost"], CERT_VALIDITY)
        write_private(self.home / "tls" / "broker.pem", broker.key_pem + broker.cert_pem + ca.cert_pem)

    # ---- configuration ------------------------------------------------------------------------------
    def properties(self) -> str:
        admin = self.passwords()[kafka_access.ADMIN]
        tls_dir = self.home / "tls"
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                f"listeners=SASL_SSL://{self.host}:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=SASL_SSL://{self.host}:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
                "inter.broker.listener.name=SASL_SSL",
                # Clients: TLS, then SCRAM-SHA-512; the broker talks to itself as admin.
                f"sasl.enabled.mechanisms={kafka_access.MECHANISM}",
                f"sasl.mechanism.inter.broker.protocol={kafka_access.MECHANISM}",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
                + _jaas("org.apache.kafka.common.security.scram.ScramLoginModule", kafka_access.ADMIN, admin),
                "ssl.keystore.type=PEM",
                f"ssl.keystore.location={tls_dir / 'broker.pem'}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={self.ca_file}",
                "ssl.client.auth=none",
                # The controller listener (loopback): a PLAIN login as admin, the only user it knows.
                "sasl.mechanism.controller.protocol=PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                "listener.name.controller.plain.sasl.jaas.config="
                + _jaas(
                    "org.apache.kafka.common.security.plain.PlainLoginModule",
                    kafka_access.ADMIN,
                    admin,
                    f'user_{kafka_access.ADMIN}="{admin}"',
                ),
                # Each user may do what its ACLs allow, nothing else; admin everything.
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                f"super.users=User:{kafka_access.ADMIN}",
                "allow.everyone.if.no.acl.found=false",
                f"log.dirs={self.home / 'data'}",
                f"num.partitions={self.partitions}",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "",
            ]
        )

    def command(self, main: str, *args: str) -> list[str]:
        """java ... ``main`` ``args`` with the broker's JVM options, its log configuration and classpath."""
        return [
            paths.java(),
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            paths.kafka_classpath(),
            main,
            *args,
        ]

    def prepare(self) -> None:
        """Credentials, certificates and configuration; format the storage once (kept across restarts), with
        the admin's SCRAM credentials (the services' users are made at start: ``ensure_users``)."""
        self.home.mkdir(parents=True, exist_ok=True)
        formatted = (self.home / "data" / "meta.properties").exists()
        admin = self._ensure_credentials(formatted)[kafka_access.ADMIN]
        self._ensure_certificates()
        write_private(self.config, self.properties().encode())
        (self.home / "log4j2.properties").write_text(LOG4J2)
        if formatted:
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        log = self.home / "format.log"
        scram = f"{kafka_access.MECHANISM}=[name={kafka_access.ADMIN},password={admin}]"
        with log.open("wb") as out:
            result = subprocess.run(
                self.command(
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    f"-t={cluster_id}",
                    "-c",
                    str(self.config),
                    "--add-scram",
                    scram,
                ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
            )
        if result.returncode != 0:
            raise NotReady(f"formatting Kafka storage failed (exit {result.returncode}); see {log}")

    def start(self, log: Path, timeout: float = 90.0) -> Proc:
        self.prepare()
        claim(self.port)
        claim(self.controller_port)
        self._log_offset = log.stat().st_size if log.exists() else 0
        self.proc = spawn("kafka", self.command("kafka.Kafka", str(self.config)), log=log, marker=str(self.config))
        wait_ready(self.proc, self._ready, timeout)
        self.ensure_users()
        return self.proc

    def _ready(self) -> bool:
        if self.proc is None or not accepts(self.port, self.host):
            return False
        with self.proc.log.open("rb") as out:
            out.seek(self._log_offset)
            return b"Kafka Server started" in out.read()

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is not None:
            self.proc.stop(timeout)

    # ---- what runs on it ----------------------------------------------------------------------------
    def ensure_users(self, timeout: float = 30.0) -> None:
        """The services' SCRAM users, with their passwords (once the broker has started)."""
        passwords = self.passwords()
        kafka_access.ensure_users(self.client_config(), {u: passwords[u] for u in kafka_access.SERVICE_USERS}, timeout)

    @contextlib.contextmanager
    def admin(self) -> Iterator[KafkaAdminClient]:
        client = KafkaAdminClient(client_id="localstack", **self.client_config())
        try:
            yield client
        finally:
            client.close()

    def create_topic(self, name: str, partitions: int | None = None, timeout: float = 30.0) -> None:
        """Create the topic; no error if it exists."""
        with self.admin() as admin, contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(name, partitions or self.partitions, 1)], timeout_ms=int(timeout * 1000))

    def create_pipeline(self, topic: str, group: str, partitions: int | None = None) -> None:
        """A pipeline's topic and dead-letter topic (<topic>-dlq), and the writer's and consumer's ACLs on
        them and on the group."""
        self.create_topic(topic, partitions)
        self.create_topic(f"{topic}-dlq", partitions)
        self.grant_pipeline(topic, group)

    def grant_pipeline(self, topic: str, group: str) -> None:
        """The writer's and consumer's ACLs on a pipeline's topic, its dead-letter topic and ``group`` (another
        group on the same topics: the ACLs already there stay)."""
        kafka_access.grant(self.client_config(), kafka_access.pipeline_grants(topic, group, f"{topic}-dlq"))
