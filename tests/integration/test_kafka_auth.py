"""Who may do what on the local broker (SASL_SSL, SCRAM-SHA-512, Kafka's StandardAuthorizer): a client
without a login gets no connection, a wrong password no session; the writer's login cannot read the sales,
the consumer's cannot write one. (test_pipeline's tests run the pipeline on this same broker, logged in.)"""

from __future__ import annotations

import contextlib
import logging
import ssl
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import GroupAuthorizationFailedError, KafkaTimeoutError, TopicAuthorizationFailedError
from kafka.net.compat import KafkaNetClient

from bftools.stack.kafka import KafkaBroker
from tests.integration.helpers import topic_size

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PARTITIONS = 4
#: A client that cannot log in gives up bootstrapping after this long (the default is 30 s).
BOOTSTRAP_MS = 4000


def without_login(kafka: KafkaBroker, protocol: str) -> dict[str, Any]:
    """The broker's address, as a client without credentials: PLAINTEXT, or TLS trusting the right CA."""
    config: dict[str, Any] = {"bootstrap_servers": kafka.bootstrap, "security_protocol": protocol}
    if protocol == "SSL":
        config["ssl_cafile"] = str(kafka.ca_file)
    return config


@contextlib.contextmanager
def refused(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[..., KafkaNetClient]]:
    """The client made inside (with ``kafka_client=`` what this yields) fails to bootstrap
    (KafkaTimeoutError). kafka-python does not close the network client of a producer or consumer whose
    constructor failed: the clients made here are closed here, so that no socket outlives the test."""
    caplog.set_level(logging.WARNING, logger="kafka")
    made: list[KafkaNetClient] = []

    def kafka_client(**config: Any) -> KafkaNetClient:
        made.append(KafkaNetClient(**config))
        return made[-1]

    try:
        with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
            yield kafka_client
    finally:
        for made_client in made:
            made_client.close()
    assert made, "no Kafka client was made"


class ClosingContext(ssl.SSLContext):
    """A client TLS context that closes, when asked, every socket it wrapped. kafka-python 3.0.12 leaves
    the socket of a failed TLS handshake open (its manager's _build_transport raises without closing the
    transport it made) until the garbage collector finds it, in whatever test runs then."""

    def __init__(self, protocol: int) -> None:
        self.wrapped: list[ssl.SSLSocket] = []

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.wrapped.append(super().wrap_socket(sock, *args, **kwargs))
        return self.wrapped[-1]

    def close_sockets(self) -> None:
        for sock in self.wrapped:
            sock.close()


def connection_errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kafka.net"))


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_a_client_without_credentials_cannot_produce(
    kafka: KafkaBroker, topic: str, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The seed's client (PLAINTEXT), and one speaking TLS but never logging in: the broker drops the
    connection before any request, so the client never even learns the cluster's brokers."""
    with refused(caplog) as kafka_client:
        KafkaProducer(**without_login(kafka, protocol), bootstrap_timeout_ms=BOOTSTRAP_MS, kafka_client=kafka_client)
    assert "socket disconnected" in connection_errors(caplog)
    assert topic_size(kafka.client_config(), topic, PARTITIONS) == 0


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SSL"])
def test_a_client_without_credentials_cannot_read(
    kafka: KafkaBroker, topic: str, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    with refused(caplog) as kafka_client:
        KafkaConsumer(
            topic, **without_login(kafka, protocol), bootstrap_timeout_ms=BOOTSTRAP_MS, kafka_client=kafka_client
        )
    assert "socket disconnected" in connection_errors(caplog)


def test_a_wrong_password_is_refused_at_login(kafka: KafkaBroker, topic: str, caplog: pytest.LogCaptureFixture) -> None:
    """Refused, and the broker's log says why. The client may not: the broker closes the connection right
    after its error response, and kafka-python 3.0.12 drops the bytes of a read that ends in the close."""
    assert kafka.proc is not None
    broker_log = kafka.proc.log
    before = broker_log.stat().st_size
    config = {**kafka.client_config("writer"), "sasl_plain_password": "not-the-password"}
    with refused(caplog) as kafka_client:
        KafkaProducer(**config, bootstrap_timeout_ms=BOOTSTRAP_MS, kafka_client=kafka_client)
    with broker_log.open("rb") as out:
        out.seek(before)
        logged = out.read().decode(errors="replace")
    assert "Failed authentication with /127.0.0.1" in logged
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in logged
    assert topic_size(kafka.client_config(), topic, PARTITIONS) == 0


def test_a_client_that_does_not_trust_the_brokers_ca_does_not_connect(
    kafka: KafkaBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """The services check the broker's certificate (and its name): the system's CAs, which kafka-python
    trusts without an ssl_cafile, do not vouch for the local one."""
    context = ClosingContext(ssl.PROTOCOL_TLS_CLIENT)  # as kafka-python builds it for no ssl_cafile
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_default_certs()
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    config = {**kafka.client_config("writer"), "ssl_cafile": None, "ssl_context": context}
    try:
        with refused(caplog) as kafka_client:
            KafkaProducer(**config, bootstrap_timeout_ms=BOOTSTRAP_MS, kafka_client=kafka_client)
    finally:
        context.close_sockets()
    assert context.wrapped, "the client never tried TLS"
    assert "CERTIFICATE_VERIFY_FAILED" in connection_errors(caplog)


def test_the_writers_login_writes_the_topic_and_cannot_read_it(kafka: KafkaBroker, topic: str) -> None:
    producer = KafkaProducer(**kafka.client_config("writer"), acks="all")
    try:
        producer.send(topic, b"a sale").get(timeout=30)
    finally:
        producer.close()
    assert topic_size(kafka.client_config(), topic, PARTITIONS) == 1

    group_reader = KafkaConsumer(**kafka.client_config("writer"), group_id=f"group-{topic}")
    try:
        group_reader.subscribe([topic])
        with pytest.raises(GroupAuthorizationFailedError):
            group_reader.poll(timeout_ms=10_000)
    finally:
        group_reader.close()
    reader = KafkaConsumer(**kafka.client_config("writer"), auto_offset_reset="earliest")
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        reader.assign(partitions)
        with pytest.raises(TopicAuthorizationFailedError):
            reader.poll(timeout_ms=10_000)
    finally:
        reader.close()


def test_the_consumers_login_reads_the_topic_and_cannot_write_it(kafka: KafkaBroker, topic: str) -> None:
    writer = KafkaProducer(**kafka.client_config("writer"), acks="all")
    try:
        writer.send(topic, b"a sale").get(timeout=30)
    finally:
        writer.close()

    forger = KafkaProducer(**kafka.client_config("consumer"), acks="all", max_block_ms=10_000)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            forger.send(topic, b"a forged sale").get(timeout=30)
    finally:
        forger.close(timeout=5)
    assert topic_size(kafka.client_config(), topic, PARTITIONS) == 1  # the forged sale is not there

    reader = KafkaConsumer(
        **kafka.client_config("consumer"),
        group_id=f"group-{topic}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=20_000,
    )
    try:
        reader.subscribe([topic])
        assert next(iter(reader)).value == b"a sale"  # StopIteration after 20 s of nothing
    finally:
        reader.close()


def test_the_consumers_login_reads_only_its_own_group(kafka: KafkaBroker, topic: str) -> None:
    """Another group name (a second pipeline's offsets) is not the consumer's to read or move."""
    reader = KafkaConsumer(**kafka.client_config("consumer"), group_id=f"other-{uuid.uuid4().hex[:6]}")
    try:
        reader.subscribe([topic])
        with pytest.raises(GroupAuthorizationFailedError):
            reader.poll(timeout_ms=10_000)
    finally:
        reader.close()


def test_the_service_users_cannot_make_topics(kafka: KafkaBroker) -> None:
    """Only the admin (the tooling) makes topics: a service's login that could would be able to make any."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAuthorizationFailedError as Refused

    for user in ("writer", "consumer"):
        admin = KafkaAdminClient(**kafka.client_config(user))
        try:
            with pytest.raises(Refused):
                admin.create_topics([NewTopic(f"made-by-{user}-{uuid.uuid4().hex[:6]}", 1, 1)], timeout_ms=10_000)
        finally:
            admin.close()
