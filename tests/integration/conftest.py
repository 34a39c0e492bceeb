"""Integration fixtures: one real Kafka broker and one real Valkey server per session, on free ports.

The broker is the local stack's: SASL_SSL with Kafka's authorizer; the services log in as writer and
consumer, the tests read and make topics as admin (``kafka.client_config()``).

Valkey runs with the chart's users (users.acl): the consumer logs in as "consumer", the reports as
"reader", the tests' own flushes and checks as "admin".

Each test gets its own topic and consumer group and an empty Valkey; the services run as real processes
(the same launcher as `make up`) and are stopped after the test, their logs shown when it fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
import valkey

from bftools.runtime.ports import free_port
from bftools.stack.kafka import KafkaBroker
from bftools.stack.services import Pipeline
from bftools.stack.valkey import ValkeyServer

PARTITIONS = 4

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    home = tmp_path_factory.mktemp("kafka")
    broker = KafkaBroker(home, free_port(), free_port(), partitions=PARTITIONS)
    broker.start(home / "kafka.log")
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def valkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyServer]:
    home = tmp_path_factory.mktemp("valkey")
    server = ValkeyServer(home, free_port())
    server.start(home / "valkey.log")
    yield server
    server.stop()


@pytest.fixture
def valkey_client(valkey_server: ValkeyServer) -> Iterator[valkey.Valkey]:
    client = valkey_server.client()
    client.flushall()
    yield client
    client.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def consumer_client(valkey_client: valkey.Valkey, valkey_server: ValkeyServer) -> Iterator[valkey.Valkey]:
    """A client logged in as the consumer's user (what the consumer may do: bf:* keys and its scripts), on
    the emptied Valkey."""
    client = valkey_server.client(user="consumer")
    yield client
    client.close()  # type: ignore[no-untyped-call]


@pytest.fixture
def topic(kafka: KafkaBroker) -> str:
    """A topic of the test's own, its dead-letter topic, and the writer's and consumer's ACLs on them and on
    the test's group (group-<topic>)."""
    name = f"sales-{uuid.uuid4().hex[:8]}"
    kafka.create_pipeline(name, f"group-{name}", PARTITIONS)
    return name


@pytest.fixture
def pipeline(
    request: pytest.FixtureRequest,
    kafka: KafkaBroker,
    valkey_server: ValkeyServer,
    valkey_client: valkey.Valkey,
    topic: str,
    tmp_path: Path,
) -> Iterator[Pipeline]:
    """The four services wired to this test's topic; the test starts them (start_all / start)."""
    pipe = Pipeline(
        logs=tmp_path / "logs",
        kafka_bootstrap=kafka.bootstrap,
        kafka_users=kafka.service_users(),
        valkey_addr=valkey_server.addr,
        valkey_users=valkey_server.logins(),
        topic=topic,
        group=f"group-{topic}",
        extra_env={
            # A killed consumer's partitions move after 6 s (the broker's minimum) instead of 10 s.
            "consumer": {"KAFKA_SESSION_TIMEOUT_MS": "6000", "LOG_LEVEL": "INFO"},
            "api": {"FORWARD_TIMEOUT_SECONDS": "8"},
        },
    )
    yield pipe
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    if failed:
        for log in sorted((tmp_path / "logs").glob("*.log")):
            print(f"----- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:]))
    pipe.stop_all()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
