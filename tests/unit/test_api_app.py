"""The api in process, with a fake bridge under its HTTP client: status codes, bodies, what is forwarded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from blackfriday.api.app import create_app
from blackfriday.api.settings import ApiSettings
from blackfriday.web import BadRequest, read_json_body
from tests.unit.fakes import HttpxBridge

GOOD: dict[str, Any] = {"categoria": "Belleza", "producto_id": "Labial-Matte", "precio": 120.5, "cantidad_vendida": 2}


class FakeBridge:
    """Answers /forward/batch like the bridge; records every sale it received."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.batches: list[int] = []
        self.answer: tuple[int, dict[str, Any]] | None = None
        self.error: Exception | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path in ("/healthz", "/readyz"):
            return httpx.Response(200, json={"status": "ok"})
        assert request.url.path == "/forward/batch"
        if self.error is not None:
            raise self.error
        sales = json.loads(request.content)["sales"]
        if self.answer is not None:
            return httpx.Response(self.answer[0], json=self.answer[1])
        self.batches.append(len(sales))
        self.received.extend(sales)
        offset = len(self.received) - len(sales)
        return httpx.Response(
            200, json={"results": [{"id": s["id"], "partition": 0, "offset": offset + i} for i, s in enumerate(sales)]}
        )


def settings(**changes: str) -> ApiSettings:
    return ApiSettings.from_env({"BRIDGE_URL": "http://bridge", "FORWARD_TIMEOUT_SECONDS": "2", **changes})


@pytest.fixture
def bridge() -> FakeBridge:
    return FakeBridge()


@pytest.fixture
def client(bridge: FakeBridge) -> Iterator[TestClient]:
    app = create_app(settings(), CollectorRegistry(), bridge=HttpxBridge(bridge))
    with TestClient(app) as test_client:
        yield test_client


def test_a_good_sale_is_forwarded_and_answered_201_with_its_id(client: TestClient, bridge: FakeBridge) -> None:
    response = client.post("/purchase", json=GOOD)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "stored"
    assert body["partition"] == 0
    assert body["offset"] == 0
    assert len(bridge.received) == 1
    forwarded = bridge.received[0]
    assert forwarded["id"] == body["id"]
    assert forwarded["categoria"] == "Belleza"
    assert forwarded["precio"] == 120.5
    assert forwarded["accepted_at_ms"] == body["accepted_at_ms"]


def test_each_sale_gets_a_unique_id(client: TestClient) -> None:
    ids = {client.post("/purchase", json=GOOD).json()["id"] for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "body"),
        (b"", {"content-type": "application/json"}, 400, "body"),
        (b'{"precio": NaN}', {"content-type": "application/json"}, 400, "body"),
        (json.dumps(GOOD).encode(), {"content-type": "text/plain"}, 415, "content-type"),
        (json.dumps(GOOD).encode(), {}, 415, "content-type"),
        (json.dumps({**GOOD, "producto_id": "x" * 5000}).encode(), {"content-type": "application/json"}, 413, "body"),
        (json.dumps([GOOD]).encode(), {"content-type": "application/json"}, 422, "body"),
        (json.dumps({**GOOD, "categoria": 7}).encode(), {"content-type": "application/json"}, 422, "categoria"),
        (json.dumps({**GOOD, "precio": 0}).encode(), {"content-type": "application/json"}, 422, "precio"),
        (json.dumps({**GOOD, "precio": "1"}).encode(), {"content-type": "application/json"}, 422, "precio"),
        (
            json.dumps({**GOOD, "cantidad_vendida": 0}).encode(),
            {"content-type": "application/json"},
            422,
            "cantidad_vendida",
        ),
        (json.dumps({**GOOD, "producto_id": ""}).encode(), {"content-type": "application/json"}, 422, "producto_id"),
        (json.dumps({**GOOD, "extra": 1}).encode(), {"content-type": "application/json"}, 422, "extra"),
        (json.dumps({"precio": 1}).encode(), {"content-type": "application/json"}, 422, "categoria"),
    ],
)
def test_bad_input_is_4xx_naming_the_field_and_nothing_is_forwarded(
    client: TestClient, bridge: FakeBridge, body: bytes, headers: dict[str, str], status: int, field: str
) -> None:
    response = client.post("/purchase", content=body, headers=headers)
    assert response.status_code == status
    assert field in response.json()["fields"]
    assert bridge.received == []


def test_content_type_with_charset_is_fine(client: TestClient) -> None:
    response = client.post(
        "/purchase", content=json.dumps(GOOD).encode(), headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "answer",
    [
        (503, {"error": "unavailable", "reason": "writer: Kafka at 10.0.0.7:9092 unavailable"}),
        (504, {"error": "deadline_exceeded", "reason": "TopicPartition(topic='sales-topic', partition=2)"}),
        (500, {"error": "internal"}),
    ],
)
def test_downstream_failure_is_503_saying_what_the_client_can_act_on(
    client: TestClient, bridge: FakeBridge, answer: tuple[int, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    bridge.answer = answer
    response = client.post("/purchase", json=GOOD)
    assert response.status_code == 503
    body = response.json()
    assert body == {
        "error": "unavailable",
        "reason": "the pipeline cannot store sales right now",
        "id": body["id"],
        "stored": "unknown",  # it went downstream: it may still land, and is then counted once
        "retry_after_seconds": 1,
    }
    assert response.headers["retry-after"] == "1"
    logged = [getattr(r, "reason", "") for r in caplog.records if r.getMessage() == "forward failed"]
    assert any(str(answer[0]) in reason for reason in logged)  # the details are in the logs, not in the answer


def test_unreachable_bridge_is_503_never_2xx_and_says_the_sale_was_not_stored(
    client: TestClient, bridge: FakeBridge
) -> None:
    bridge.error = httpx.ConnectError("connection refused")
    response = client.post("/purchase", json=GOOD)
    assert response.status_code == 503
    assert response.json()["reason"] == "the pipeline cannot store sales right now"
    assert response.json()["stored"] == "no"  # no connection: the sale never left the api


def test_a_bridge_lost_after_the_request_left_is_a_503_that_may_be_stored(
    client: TestClient, bridge: FakeBridge
) -> None:
    bridge.error = httpx.ReadError("connection reset by peer")
    response = client.post("/purchase", json=GOOD)
    assert response.status_code == 503
    assert response.json()["stored"] == "unknown"


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/purchase", json=GOOD)
    metrics = client.get("/metrics").text
    assert 'bf_http_requests_total{code="201",route="/purchase"} 1.0' in metrics
    assert "bf_api_forward_batch_size_count 1.0" in metrics


def test_readiness_fails_when_the_bridge_is_down(bridge: FakeBridge) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    app = create_app(settings(), CollectorRegistry(), bridge=HttpxBridge(down))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "bridge unreachable" in response.json()["reason"]


def test_unknown_route_and_method_are_json_errors(client: TestClient) -> None:
    assert client.get("/nope").status_code == 404
    response = client.get("/purchase")
    assert response.status_code == 405
    assert "error" in response.json()


def test_a_sale_that_arrives_while_the_api_drains_is_still_stored(bridge: FakeBridge) -> None:
    """After SIGTERM the api is not ready (the Service stops sending it connections), but a sale that still
    arrives on an open connection is served: refusing it would fail a customer during every rollout."""
    app = create_app(settings(), CollectorRegistry(), bridge=HttpxBridge(bridge))
    with TestClient(app) as client:
        app.state.health.readiness.drain()  # what SIGTERM does
        response = client.post("/purchase", json=GOOD)
        assert client.get("/readyz").status_code == 503
    assert response.status_code == 201
    assert [sale["id"] for sale in bridge.received] == [response.json()["id"]]


def test_sales_over_the_in_flight_limit_are_shed_at_once_without_going_downstream() -> None:
    """MAX_IN_FLIGHT sales wait on a bridge that does not answer; the next one is a 503 "no" at once."""
    release = asyncio.Event()
    both_downstream = asyncio.Event()
    received: list[int] = []

    async def slow_bridge(request: httpx.Request) -> httpx.Response:
        sales = json.loads(request.content)["sales"]
        received.append(len(sales))
        if sum(received) >= 2:
            both_downstream.set()
        await release.wait()
        return httpx.Response(200, json={"results": [{"id": s["id"], "partition": 0, "offset": 0} for s in sales]})

    async def main() -> tuple[list[int], dict[str, Any], int]:
        app = create_app(
            settings(MAX_IN_FLIGHT="2", FORWARD_TIMEOUT_SECONDS="30"),
            CollectorRegistry(),
            bridge=HttpxBridge(slow_bridge),
        )
        async with app.router.lifespan_context(app) as state:
            transport = httpx.ASGITransport(app=_with_state(app, state))
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                waiting = [asyncio.create_task(client.post("/purchase", json=GOOD)) for _ in range(2)]
                await asyncio.wait_for(both_downstream.wait(), 10)
                shed = await client.post("/purchase", json=GOOD)
                downstream = sum(received)
                release.set()
                statuses = [r.status_code for r in await asyncio.gather(*waiting)]
        assert shed.headers["retry-after"] == "1"
        return statuses, shed.json(), downstream

    statuses, shed, downstream = asyncio.run(main())
    assert statuses == [201, 201]
    assert shed["reason"] == "too many sales in flight"
    assert shed["stored"] == "no"
    assert downstream == 2  # the shed sale never left the api


def _with_state(app: Any, state: Any) -> Any:
    """The app with its lifespan state in every request's scope (what a server does after startup)."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, "state": dict(state or {})}, receive, send)

    return asgi


def test_a_body_that_does_not_arrive_in_time_is_408_and_closes_the_connection() -> None:
    async def main() -> JSONResponse:
        async def receive() -> dict[str, Any]:
            if not sent:
                sent.append(True)
                return {"type": "http.request", "body": b'{"categoria": 4, ', "more_body": True}
            await asyncio.Event().wait()  # the rest never comes
            raise AssertionError("unreachable")

        sent: list[bool] = []
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/purchase",
            "headers": [(b"content-type", b"application/json")],
        }
        try:
            await read_json_body(Request(scope, receive), max_bytes=4096, timeout=0.2)
        except BadRequest as exc:
            return exc.response()
        raise AssertionError("no timeout")

    response = asyncio.run(main())
    assert response.status_code == 408
    assert json.loads(bytes(response.body)) == {
        "error": "request timeout",
        "fields": {"body": "not received within 0.2s"},
    }
    assert response.headers["connection"] == "close"


def test_the_openapi_document_describes_purchase(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/purchase"]["post"]
    sale = operation["requestBody"]["content"]["application/json"]["schema"]
    assert sale["required"] == ["categoria", "producto_id", "precio", "cantidad_vendida"]
    assert {"201", "400", "413", "415", "422", "503"} <= set(operation["responses"])
