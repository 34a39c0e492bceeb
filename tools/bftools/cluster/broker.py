"""The project's own Kafka broker (a KRaft node from the Maven jars) inside the cluster's namespace: the
existing Kafka the chart uses through global.kafka.external. It is the local stack's broker
(bftools.stack.kafka.KafkaBroker: SASL_SSL, SCRAM-SHA-512, Kafka's authorizer), listening and advertising on
the node's address (in its certificate), which the pods reach through their gateway and the host through the
veth. Its users' passwords and CA are made with its storage at every `make cluster-up`; a release reads the
writer's and consumer's from the Secret ``KAFKA_SECRET`` in its namespace (``apply_client_secret``), which
global.kafka.external.existingSecret names in the cluster's values file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from kubernetes import client

from bftools.cluster import kube
from bftools.cluster.components import Component
from bftools.cluster.config import (
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
#: The Secret with the services' Kafka logins and the broker's CA, in each release's namespace; its keys are
#: those global.kafka.external.existingSecret documents (charts/black-friday/README.md).
KAFKA_SECRET: Final = "bf-kafka-credentials"  # noqa: S105 - the Secret's name


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


def broker(layout: Layout | None = None) -> KafkaBroker:
    """The cluster's broker (of the default layout): its address, CA and users' logins."""
    return _broker(layout or Layout.default())


def ensure_users(layout: Layout) -> None:
    """The writer's and consumer's SCRAM users, once the broker has started."""
    _broker(layout).ensure_users()


def create_pipeline(topic: str, group: str, layout: Layout | None = None, partitions: int = KAFKA_PARTITIONS) -> None:
    """A release's topic and dead-letter topic (<topic>-dlq) through the veth (no error if they exist), and the
    writer's and consumer's ACLs on them and on its consumer ``group``."""
    broker(layout).create_pipeline(topic, group, partitions)


def client_config(user: str = "admin", layout: Layout | None = None) -> dict[str, Any]:
    """kafka-python's bootstrap_servers and login of one of the broker's users (the admin by default)."""
    return broker(layout).client_config(user)


def client_secret(namespace: str, layout: Layout | None = None) -> dict[str, Any]:
    """The Secret with the writer's and consumer's logins and the broker's CA, for a release in ``namespace``."""
    kafka = broker(layout)
    passwords = kafka.passwords()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": KAFKA_SECRET, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "bf-k8s"}},
        "type": "Opaque",
        "stringData": {
            "writer-username": "writer",
            "writer-password": passwords["writer"],
            "consumer-username": "consumer",
            "consumer-password": passwords["consumer"],
            "ca.crt": kafka.ca_file.read_text(),
        },
    }


def apply_client_secret(api: client.ApiClient, namespace: str, layout: Layout | None = None) -> None:
    """The namespace (if missing) and the Secret of the services' Kafka logins in it: before a release's install."""
    kube.apply(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube.apply(api, client_secret(namespace, layout))
