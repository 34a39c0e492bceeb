"""The project's own Kafka broker (a KRaft node from the Maven jars) inside the cluster's namespace: the
"existing Kafka" the chart uses with kafka.external.bootstrapServers. It listens and advertises on the
node's address, which the pods reach through their gateway and the host through the veth."""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
import uuid
from pathlib import Path

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from cluster.components import Component
from cluster.config import (
    KAFKA_BOOTSTRAP,
    KAFKA_CONTROLLER_PORT,
    KAFKA_PARTITIONS,
    KAFKA_PORT,
    NODE_IP,
    ROOT,
    ClusterError,
    Layout,
    MissingPrerequisite,
)

LIB = ROOT / ".cache" / "kafka" / "lib"
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
READY_LINE = b"Kafka Server started"


def home(layout: Layout) -> Path:
    return layout.run / "kafka"


def _properties(data: Path) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{KAFKA_CONTROLLER_PORT}",
            f"listeners=PLAINTEXT://{NODE_IP}:{KAFKA_PORT},CONTROLLER://127.0.0.1:{KAFKA_CONTROLLER_PORT}",
            f"advertised.listeners=PLAINTEXT://{NODE_IP}:{KAFKA_PORT}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data}",
            f"num.partitions={KAFKA_PARTITIONS}",
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


def prepare_check() -> str:
    """The java binary; MissingPrerequisite when java or the Kafka jars are missing."""
    java = shutil.which("java")
    if java is None:
        raise MissingPrerequisite("java is not on PATH: the Kafka broker needs a JDK 17+")
    if not any(LIB.glob("kafka_2.13-*.jar")):
        raise MissingPrerequisite(f"the Kafka jars are missing in {LIB}: run scripts/setup kafka")
    return java


def _java(kafka_home: Path, main: str, *args: str) -> list[str]:
    java = prepare_check()
    return [
        java,
        "-Xms512m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        f"-Dlog4j2.configurationFile={kafka_home / 'log4j2.properties'}",
        "-cp",
        str(LIB / "*"),
        main,
        *args,
    ]


def prepare(layout: Layout) -> Component:
    """Write the configuration, format the storage (a fresh cluster id per `up`); the broker to start."""
    kafka_home = home(layout)
    kafka_home.mkdir(parents=True, exist_ok=True)
    config = kafka_home / "server.properties"
    config.write_text(_properties(kafka_home / "data"))
    (kafka_home / "log4j2.properties").write_text(LOG4J2)
    if not (kafka_home / "data" / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        argv = _java(
            kafka_home, "kafka.tools.StorageTool", "format", "--standalone", f"-t={cluster_id}", "-c", str(config)
        )
        log = layout.logs / "kafka-format.log"
        with log.open("wb") as out:
            try:
                done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False)
            except subprocess.TimeoutExpired:
                raise ClusterError(f"formatting the Kafka storage took over 120s; see {log}") from None
        if done.returncode != 0:
            raise ClusterError(f"formatting the Kafka storage failed (exit {done.returncode}); see {log}")
    return Component("kafka", _java(kafka_home, "kafka.Kafka", str(config)), str(config))


def started(log: Path, offset: int) -> bool:
    try:
        with log.open("rb") as out:
            out.seek(offset)
            return READY_LINE in out.read()
    except OSError:
        return False


def create_topic(name: str, partitions: int = KAFKA_PARTITIONS, timeout: float = 30) -> None:
    """Create the topic through the veth (no error if it exists)."""
    admin = KafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP, client_id="bf-cluster", request_timeout_ms=20000)
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=int(timeout * 1000))
    finally:
        admin.close()
