"""Hostile input at the api and the bridge (in process): every answer is JSON, never a 5xx, and nothing but a
valid sale ever goes downstream. Property-based (hypothesis), bounded and derandomized: the same examples on
every run.

The integration suite runs the schema-driven fuzzer (schemathesis) against the real processes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from blackfriday.api.app import create_app as create_api
from blackfriday.api.settings import ApiSettings
from blackfriday.bridge.app import create_app as create_bridge
from blackfriday.bridge.settings import BridgeSettings
from blackfriday.grpcwire import sale_from_proto
from blackfriday.sale import InvalidSale, loads_strict, sale_from_wire, validate_purchase
from tests.unit.fakes import FakeWriter, HttpxBridge, fake_writer
from tests.unit.test_api_app import FakeBridge
from tests.unit.test_bridge_app import SALE

BOUNDED = settings(
    max_examples=250, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
GOOD: dict[str, Any] = {"categoria": 4, "producto_id": "Labial-Matte", "precio": 120.5, "cantidad_vendida": 2}

# Any JSON document: odd numbers (huge, tiny, negative zero), every kind of text, nesting.
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    # integers far beyond a float's range (10**308): JSON has no size limit, Python's float() overflows
    st.integers(min_value=10**300, max_value=10**1200),
    st.integers(min_value=10**300, max_value=10**1200).map(lambda n: -n),
    st.floats(allow_nan=False, allow_infinity=False),
    # floats near the limits: the largest, the smallest subnormal, around the price bounds
    st.floats(min_value=1e300, allow_infinity=False),
    st.floats(min_value=0, max_value=1e-300, allow_subnormal=True),
    st.sampled_from(
        [
            *(0, -0.0, 1e-320, 5e-324, 5e-3, 0.004999, 1e308, 1.7976931348623157e308, -1.7976931348623157e308),
            *(10**309, -(10**309), 10**310 - 1, 10**4300 - 1, 999999.995, 1000000.005, 2**63, 2**64, -(2**63) - 1),
        ]
    ),
)
text = st.text(alphabet=st.characters(codec=None), max_size=80)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(text, children, max_size=5)),
    max_leaves=30,
)
# A valid sale with one field replaced, dropped, or an extra one added: the near misses.
near_misses = st.one_of(
    st.builds(lambda k, v: {**GOOD, k: v}, st.sampled_from(sorted(GOOD)), json_values),
    st.builds(lambda k: {f: v for f, v in GOOD.items() if f != k}, st.sampled_from(sorted(GOOD))),
    st.builds(lambda k, v: {**GOOD, k: v}, text, json_values),
)


def _encoded(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


raw_bodies = st.one_of(
    json_values.map(_encoded),
    near_misses.map(_encoded),
    st.binary(max_size=300),
    # truncated valid JSON
    st.integers(min_value=0, max_value=len(_encoded(GOOD)) - 1).map(lambda n: _encoded(GOOD)[:n]),
    # NaN / Infinity literals, and repeated keys
    st.sampled_from([b"NaN", b"-Infinity", b'{"precio": NaN}', b'{"categoria": 1, "categoria": 2}']),
    st.builds(
        lambda k: _encoded(GOOD)[:-1] + f', "{k}": {json.dumps(GOOD[k])}}}'.encode(), st.sampled_from(sorted(GOOD))
    ),
    # nesting far deeper than Python's recursion limit, under the size limit
    st.integers(min_value=900, max_value=2000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=500, max_value=800).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    # over the size limit
    st.integers(min_value=4097, max_value=20000).map(lambda size: b" " * size + _encoded(GOOD)),
)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "application/JSON", "multipart/form"]
)
methods = st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
paths = st.one_of(
    st.sampled_from(["/", "/purchase/", "/purchase/x", "//purchase", "/%00", "/forward/batch/", "/openapi.json/"]),
    # any text, as a client can send it (percent-encoded UTF-8; a lone surrogate is sent as its code units)
    text.map(lambda t: "/" + quote(t.encode("utf-8", "surrogatepass"))),
)


JSON = {"content-type": "application/json"}


def is_valid_purchase(body: bytes) -> bool:
    try:
        validate_purchase(loads_strict(body))
    except (ValueError, InvalidSale):
        return False
    return True


def assert_json_not_5xx(response: Any, method: str = "POST") -> None:
    """``response``: an httpx2 response of Starlette's TestClient."""
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    if method != "HEAD":
        json.loads(response.content)


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[TestClient, FakeBridge]]:
    bridge = FakeBridge()
    settings_ = ApiSettings.from_env({"BRIDGE_URL": "http://bridge", "FORWARD_TIMEOUT_SECONDS": "2"})
    app = create_api(settings_, CollectorRegistry(), bridge=HttpxBridge(bridge))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, bridge


@BOUNDED
@given(body=raw_bodies, content_type=content_types)
def test_api_answers_any_body_with_json_and_forwards_only_valid_sales(
    api: tuple[TestClient, FakeBridge], body: bytes, content_type: str
) -> None:
    client, bridge = api
    before = len(bridge.received)
    response = client.post("/purchase", content=body, headers={"content-type": content_type})
    assert_json_not_5xx(response)
    forwarded = bridge.received[before:]
    if response.status_code == 201:
        assert content_type.lower().startswith("application/json")
        assert is_valid_purchase(body)
        assert len(forwarded) == 1
    else:
        assert 400 <= response.status_code < 500
        assert forwarded == []
    for sale in forwarded:
        sale_from_wire(sale)  # only valid sales ever go downstream


@BOUNDED
@given(field=st.sampled_from(sorted(GOOD)), number=numbers)
def test_api_any_json_number_in_any_field_is_taken_or_a_4xx(
    api: tuple[TestClient, FakeBridge], field: str, number: float
) -> None:
    """Every field gets every kind of number: integers far beyond a float's range, the float limits."""
    client, bridge = api
    before = len(bridge.received)
    response = client.post("/purchase", content=_encoded({**GOOD, field: number}), headers=JSON)
    assert_json_not_5xx(response)
    if response.status_code == 201:
        assert len(bridge.received) == before + 1
    else:
        assert response.status_code in (413, 422), response.text
        assert bridge.received[before:] == []


@BOUNDED
@given(field=st.sampled_from(sorted(SALE)), number=numbers)
def test_bridge_any_json_number_in_any_field_is_taken_or_a_4xx(
    bridge: tuple[TestClient, FakeWriter], field: str, number: float
) -> None:
    client, writer = bridge
    before = len(writer.requests)
    response = client.post("/forward/batch", content=_encoded({"sales": [{**SALE, field: number}]}), headers=JSON)
    assert_json_not_5xx(response)
    if response.status_code != 200:
        assert response.status_code in (413, 422), response.text
        assert writer.requests[before:] == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 2000 + b"]" * 2000, "nested too deeply"),  # Python's parser would raise RecursionError
        (b'{"a":[' * 500 + b"1" + b"]}" * 500, "nested too deeply"),
        (b'{"categoria": 1, "producto_id": "x", "precio": 1, "cantidad_vendida": 1, "categoria": 2}', "duplicate key"),
        (b'{"categoria": 1, "producto_id": "x", "precio": NaN, "cantidad_vendida": 1}', "NaN is not valid JSON"),
    ],
    ids=["deep-array", "deep-object", "duplicate-key", "nan"],
)
def test_json_a_parser_would_choke_on_or_read_two_ways_is_a_400(
    api: tuple[TestClient, FakeBridge], body: bytes, why: str
) -> None:
    """Outside hypothesis, which raises the recursion limit while a test runs."""
    client, bridge = api
    before = len(bridge.received)
    response = client.post("/purchase", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert why in response.json()["fields"]["body"]
    assert bridge.received[before:] == []


@BOUNDED
@given(document=json_values)
def test_the_validator_takes_or_names_every_field_of_any_document(document: Any) -> None:
    try:
        fields = validate_purchase(document)
    except InvalidSale as exc:
        errors = exc.errors
    else:
        assert 1 <= fields.price_cents <= 100_000_000
        assert math.isfinite(fields.precio)
        return
    assert errors
    assert all(isinstance(v, str) and v for v in errors.values())


@BOUNDED
@given(method=methods, path=paths)
def test_api_odd_methods_and_paths_are_json_4xx(api: tuple[TestClient, FakeBridge], method: str, path: str) -> None:
    client, bridge = api
    before = len(bridge.received)
    response = client.request(method, path)
    if response.status_code == 200:
        assert method in ("GET", "HEAD")
        assert path.rstrip("/") in ("/healthz", "/readyz", "/metrics", "/openapi.json")
        return
    assert_json_not_5xx(response, method)
    assert bridge.received[before:] == []


@pytest.fixture(scope="module")
def bridge() -> Iterator[tuple[TestClient, FakeWriter]]:
    with fake_writer() as (fake, _, port):
        settings_ = BridgeSettings.from_env({"GRPC_HOST": f"127.0.0.1:{port}", "GRPC_TIMEOUT_SECONDS": "2"})
        with TestClient(create_bridge(settings_, CollectorRegistry()), raise_server_exceptions=False) as client:
            yield client, fake


bridge_documents = st.one_of(
    json_values,
    st.builds(lambda k, v: {**SALE, k: v}, st.sampled_from(sorted(SALE)), json_values),
    st.builds(lambda sales: {"sales": sales}, st.lists(st.one_of(json_values, st.just(SALE)), max_size=4)),
    st.builds(lambda k, v: {"sales": [{**SALE, k: v}]}, st.sampled_from(sorted(SALE)), json_values),
)
bridge_bodies = st.one_of(bridge_documents.map(_encoded), raw_bodies)


@BOUNDED
@given(body=bridge_bodies, path=st.sampled_from(["/forward", "/forward/batch"]), content_type=content_types)
def test_bridge_answers_any_body_with_json_and_sends_only_valid_sales(
    bridge: tuple[TestClient, FakeWriter], body: bytes, path: str, content_type: str
) -> None:
    client, writer = bridge
    before = len(writer.requests)
    response = client.post(path, content=body, headers={"content-type": content_type})
    assert_json_not_5xx(response)
    if response.status_code != 200:
        assert writer.requests[before:] == []
    for request in writer.requests[before:]:
        sale_from_proto(request)  # only valid sales ever reach the writer
