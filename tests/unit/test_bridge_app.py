"""The bridge in process against a fake writer (a real gRPC server): JSON in, gRPC out, status mapped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from blackfriday.bridge.app import create_app
from blackfriday.bridge.settings import BridgeSettings
from blackfriday.bridge.status import http_status
from blackfriday.grpcwire import SERVICE_NAME
from blackfriday.pb import product_sale_pb2, product_sale_pb2_grpc
from blackfriday.settings import SettingsError
from tests.unit.fakes import FakeWriter, RunningFakeWriter, fake_writer, start_fake_writer

SALE: dict[str, Any] = {
    "id": "0190-a",
    "accepted_at_ms": 1_700_000_000_000,
    "categoria": "Belleza",
    "producto_id": "Labial-Matte",
    "precio": 120.5,
    "cantidad_vendida": 2,
}


@pytest.fixture
def writer() -> Iterator[tuple[FakeWriter, health.HealthServicer, int]]:
    with fake_writer() as running:
        yield running


@pytest.fixture
def client(writer: tuple[FakeWriter, health.HealthServicer, int]) -> Iterator[TestClient]:
    settings = BridgeSettings.from_env({"GRPC_HOST": f"127.0.0.1:{writer[2]}", "GRPC_TIMEOUT_SECONDS": "2"})
    with TestClient(create_app(settings, CollectorRegistry())) as test_client:
        yield test_client


def test_a_batch_becomes_one_grpc_call_with_every_field(client: TestClient, writer: Any) -> None:
    fake = writer[0]
    second = {**SALE, "id": "0190-b", "categoria": 1, "precio": 3}
    response = client.post("/forward/batch", json={"sales": [SALE, second]})
    assert response.status_code == 200
    assert response.json() == {
        "results": [{"id": "0190-a", "partition": 1, "offset": 0}, {"id": "0190-b", "partition": 1, "offset": 1}]
    }
    first = fake.requests[0]
    assert (first.sale_id, first.accepted_at_ms, first.categoria, first.producto_id, first.precio) == (
        "0190-a",
        1_700_000_000_000,
        product_sale_pb2.Belleza,
        "Labial-Matte",
        120.5,
    )
    assert first.cantidad_vendida == 2
    assert fake.requests[1].categoria == product_sale_pb2.Electronica


def test_single_forward_keeps_the_seed_answer_and_gives_an_id_to_a_seed_body(client: TestClient, writer: Any) -> None:
    seed_body = {"categoria": 4, "producto_id": "Labial-Matte", "precio": 120.5, "cantidad_vendida": 2}
    response = client.post("/forward", json=seed_body)
    assert response.status_code == 200
    assert response.json()["estado"] == "Procesado"
    assert writer[0].requests[0].sale_id != ""
    assert writer[0].requests[0].accepted_at_ms > 0


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.INTERNAL, 500),
    ],
)
def test_grpc_status_is_mapped_to_http_keeping_internal_details_in_the_logs(
    client: TestClient, writer: Any, code: grpc.StatusCode, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    writer[0].fail = (code, "Kafka at 10.0.0.7:9092 unavailable")
    response = client.post("/forward/batch", json={"sales": [SALE]})
    assert response.status_code == status
    if code == grpc.StatusCode.INVALID_ARGUMENT:  # a refused sale's field errors are for the caller
        assert response.json() == {"error": "invalid sale", "reason": "Kafka at 10.0.0.7:9092 unavailable"}
        return
    assert response.json() == {"error": code.name.lower(), "reason": "the writer could not store the sales"}
    assert any(getattr(r, "details", None) == "Kafka at 10.0.0.7:9092 unavailable" for r in caplog.records)


def test_every_grpc_code_has_an_http_status() -> None:
    for code in grpc.StatusCode:
        assert 200 <= http_status(code) < 600


def test_writer_down_is_503(writer: Any) -> None:
    settings = BridgeSettings.from_env({"GRPC_HOST": "127.0.0.1:1", "GRPC_TIMEOUT_SECONDS": "2"})
    with TestClient(create_app(settings, CollectorRegistry())) as client:
        response = client.post("/forward/batch", json={"sales": [SALE]})
        assert response.status_code == 503
        assert client.get("/readyz").status_code == 503


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sales": []}, "sales"),
        ({"sales": "x"}, "sales"),
        ({}, "sales"),
        ({"sales": [{**SALE, "precio": -1}]}, "sales[0].precio"),
        ({"sales": [SALE, {**SALE, "id": 7}]}, "sales[1].id"),
    ],
)
def test_bad_batches_are_422_naming_the_field_and_not_sent(
    client: TestClient, writer: Any, body: dict[str, Any], field: str
) -> None:
    response = client.post("/forward/batch", json=body)
    assert response.status_code == 422
    assert field in response.json()["fields"]
    assert writer[0].requests == []


def test_readiness_follows_the_writers_health(client: TestClient, writer: Any) -> None:
    assert client.get("/readyz").status_code == 200
    writer[1].set(SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "not serving" in response.json()["reason"]


@pytest.mark.parametrize("target", ["writer:50051", "dns:///writer-headless.ns.svc:50051", "127.0.0.1:5"])
def test_grpc_targets_accepted(target: str) -> None:
    assert BridgeSettings.from_env({"GRPC_HOST": target}).grpc_host == target


@pytest.mark.parametrize("target", ["writer", "http://writer:50051", "writer:port"])
def test_bad_grpc_target_names_the_variable(target: str) -> None:
    with pytest.raises(SettingsError, match=r"^GRPC_HOST: "):
        BridgeSettings.from_env({"GRPC_HOST": target})


@pytest.fixture
def two_writers() -> Iterator[list[RunningFakeWriter]]:
    writers = [start_fake_writer(), start_fake_writer()]
    yield writers
    for running in writers:
        running.server.stop(None)


def _bridge_of(writers: list[RunningFakeWriter]) -> TestClient:
    """The bridge balancing over the writers, as over a headless Service's addresses."""
    target = "ipv4:" + ",".join(f"127.0.0.1:{w.port}" for w in writers)
    settings = BridgeSettings.from_env({"GRPC_HOST": target, "GRPC_TIMEOUT_SECONDS": "5"})
    return TestClient(create_app(settings, CollectorRegistry()))


def test_one_draining_writer_of_two_leaves_the_bridge_ready(two_writers: list[RunningFakeWriter]) -> None:
    """A writer that drains says NOT_SERVING: the bridge (and the api behind it) stays ready on the other."""
    two_writers[0].health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING)
    with _bridge_of(two_writers) as client:
        assert [client.get("/readyz").status_code for _ in range(8)] == [200] * 8
        two_writers[1].health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.NOT_SERVING)
        assert client.get("/readyz").status_code == 503


def test_calls_move_off_a_writer_that_stops_gracefully_and_none_fails(
    two_writers: list[RunningFakeWriter],
) -> None:
    """The writer's SIGTERM: GOAWAY, its calls finish, new ones go to the other writer; every batch is
    stored exactly once (each sale reaches one writer once)."""
    statuses: list[int] = []
    with _bridge_of(two_writers) as client:
        for i in range(40):
            if i == 20:
                two_writers[0].server.stop(grace=2).wait()
            response = client.post("/forward/batch", json={"sales": [{**SALE, "id": f"s-{i}"}]})
            statuses.append(response.status_code)
    assert statuses == [200] * 40
    received = [r.sale_id for w in two_writers for r in w.fake.requests]
    assert sorted(received) == sorted(f"s-{i}" for i in range(40))
    assert all(int(r.sale_id[2:]) < 20 for r in two_writers[0].fake.requests)


def test_calls_wait_for_a_restarting_writer_instead_of_failing() -> None:
    """No writer connected (restarting, or a rollout's new one not yet found): the call waits for one within
    its deadline, and is sent only then."""
    placeholder = start_fake_writer()
    port = placeholder.port
    placeholder.server.stop(None).wait()
    settings = BridgeSettings.from_env({"GRPC_HOST": f"127.0.0.1:{port}", "GRPC_TIMEOUT_SECONDS": "8"})
    with TestClient(create_app(settings, CollectorRegistry())) as client:
        assert client.get("/readyz").status_code == 503  # nothing there yet
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        fake = FakeWriter()
        product_sale_pb2_grpc.add_ProductSaleServiceServicer_to_server(fake, server)
        assert server.add_insecure_port(f"127.0.0.1:{port}") == port
        starter = threading.Timer(1.0, server.start)  # the writer comes back while the call waits
        starter.start()
        try:
            response = client.post("/forward/batch", json={"sales": [SALE]})
        finally:
            starter.join()
            server.stop(None)
    assert response.status_code == 200
    assert [r.sale_id for r in fake.requests] == [SALE["id"]]
