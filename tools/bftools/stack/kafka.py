"""A real single-node Kafka broker (KRaft, broker and controller in one JVM) from the Maven jars."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from bftools.runtime import paths
from bftools.runtime.ports import accepts
from bftools.runtime.process import NotReady, Proc, spawn, wait_ready

#: The topics of the local stack (the seed's name, and where the consumer keeps records that are not sales).
SALES_TOPIC = "sales-topic"
DEAD_LETTER_TOPIC = "sales-topic-dlq"

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
"""


@dataclass
class KafkaBroker:
    home: Path
    port: int
    controller_port: int
    heap: str = "512m"
    partitions: int = 3
    #: The address clients connect to (its PLAINTEXT listener, advertised as is); the controller stays on loopback.
    host: str = "127.0.0.1"
    proc: Proc | None = field(default=None, init=False)
    _log_offset: int = field(default=0, init=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    def properties(self) -> str:
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                f"listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
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
        """Write the configuration and format the storage once (kept across restarts)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self.properties())
        (self.home / "log4j2.properties").write_text(LOG4J2)
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        log = self.home / "format.log"
        with log.open("wb") as out:
            result = subprocess.run(
                self.command(
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    f"-t={cluster_id}",
                    "-c",
                    str(self.config),
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
        self._log_offset = log.stat().st_size if log.exists() else 0
        self.proc = spawn("kafka", self.command("kafka.Kafka", str(self.config)), log=log, marker=str(self.config))
        wait_ready(self.proc, self._ready, timeout)
        return self.proc

    def _ready(self) -> bool:
        if self.proc is None or not accepts(self.port):
            return False
        with self.proc.log.open("rb") as out:
            out.seek(self._log_offset)
            return b"Kafka Server started" in out.read()

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is not None:
            self.proc.stop(timeout)

    def create_topic(self, name: str, partitions: int | None = None, timeout: float = 30.0) -> None:
        """Create the topic; no error if it exists."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="localstack")
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(name, partitions or self.partitions, 1)], timeout_ms=int(timeout * 1000))
        finally:
            admin.close()
