"""The project's own Kafka broker (a KRaft node from the Maven jars) inside the cluster's namespace: the
existing Kafka the chart uses through global.kafka.external.bootstrapServers. It is the local stack's
broker (bftools.stack.kafka.KafkaBroker), listening and advertising on the node's address, which the pods
reach through their gateway and the host through the veth."""

from __future__ import annotations

import contextlib
from pathlib import Path

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from bftools.cluster.components import Component
from bftools.cluster.config import (
    KAFKA_BOOTSTRAP,
    KAFKA_CONTROLLER_PORT,
    KAFKA_PARTITIONS,
    KAFKA_PORT,
    NODE_IP,
    ClusterError,
    Layout,
    MissingPrerequisite,
)
from bftools.runtime import paths
from bftools.runtime.ports import accepts
from bftools.runtime.process import NotReady
from bftools.stack.kafka import KafkaBroker

READY_LINE = b"Kafka Server started"


def _broker(layout: Layout) -> KafkaBroker:
    return KafkaBroker(
        layout.run / "kafka", KAFKA_PORT, KAFKA_CONTROLLER_PORT, partitions=KAFKA_PARTITIONS, host=NODE_IP
    )


def prepare_check() -> str:
    """The java binary; MissingPrerequisite when java or the Kafka jars are missing."""
    try:
        java = paths.java()
        paths.kafka_classpath()
    except paths.MissingTool as exc:
        raise MissingPrerequisite(str(exc)) from None
    return java


def prepare(layout: Layout) -> Component:
    """Write the configuration, format the storage (a fresh cluster id per `up`); the broker to start."""
    prepare_check()
    try:
        _broker(layout).prepare()
    except NotReady as exc:
        raise ClusterError(str(exc)) from None
    return component(layout)


def component(layout: Layout) -> Component:
    """The broker on its prepared storage (to start it again: make cluster-chaos kills it)."""
    broker = _broker(layout)
    return Component("kafka", broker.command("kafka.Kafka", str(broker.config)), str(broker.config))


def ready(log: Path, offset: int) -> bool:
    """The broker answers on the node's address and its log, from ``offset`` on, says it started."""
    return accepts(KAFKA_PORT, NODE_IP) and started(log, offset)


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
