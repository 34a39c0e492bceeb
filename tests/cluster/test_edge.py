"""The public edge served for real: Traefik (started by `make cluster-up`) on the node's port 80 serves the
chart's Ingress and its HTTPRoute, and limits each client's rate.

A sale POSTed from the host to http://<node>/purchase is counted (the README's release: the cluster's values
give its Ingress the class traefik). A release of its own (bf-edge: its own topic and consumer group, a
limit of 5 a second with bursts of 5, its Ingress for the host edge.test and an HTTPRoute on the Gateway
traefik/edge for route.test) shows the limit: a client over it gets 429 while another client is served at
the same time, and every sale answered 201, and only those, is counted."""

from __future__ import annotations

import concurrent.futures
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from kubernetes import client

from bftools.cluster import broker, ns_run
from bftools.cluster import release as chart
from bftools.cluster.addons import GATEWAY_NAME, TRAEFIK_NAMESPACE
from bftools.cluster.config import NODE_IP
from tests.cluster.releases import NAMESPACE, RELEASE, Releases, delete_namespace, ok, room_made, wait

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]

EDGE_RELEASE = "bf-edge"
EDGE_NAMESPACE = "bf-edge"
URL = f"http://{NODE_IP}/purchase"

#: Run inside the cluster's network namespace: another client (the node's address, not the host's).
OTHER_CLIENT = """\
import json, sys, urllib.request
codes = []
for _ in range(int(sys.argv[3])):
    request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST",
                                     headers={"content-type": "application/json", "host": "edge.test"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            codes.append(response.status)
    except urllib.error.HTTPError as error:
        codes.append(error.code)
print(json.dumps(codes))
"""


def sale(product: str) -> dict[str, object]:
    return {"categoria": "Hogar", "producto_id": product, "precio": 10.0, "cantidad_vendida": 1}


def post(host: str, product: str) -> int:
    try:
        return httpx.post(URL, json=sale(product), headers={"host": host}, timeout=20).status_code
    except httpx.HTTPError:
        return 0


@pytest.fixture(scope="module")
def edge(releases: Releases) -> Iterator[Releases]:
    """The release bf-edge: its own topic and group, a low limit, an Ingress (edge.test) and an HTTPRoute
    (route.test); removed with its namespace afterwards (deleted, not waited for: the pods' graceful ends take
    half a minute that no test needs; the next install waits for the room: releases.room_made)."""
    core = client.CoreV1Api(releases.api)
    room_made(core)  # bf-edge of a previous run too
    run_id = uuid.uuid4().hex[:8]
    topic = f"edge-{run_id}"
    broker.create_pipeline(topic, topic)  # its topics and the services' ACLs on them
    broker.apply_client_secret(releases.api, EDGE_NAMESPACE)  # the services' Kafka logins
    args = [
        *chart.readme_install(EDGE_RELEASE, EDGE_NAMESPACE, releases.info.values_file),
        *("--set", f"global.kafka.topic={topic}", "--set", f"global.kafka.consumerGroup={topic}"),
        *("--set", "ingress.host=edge.test", "--set", "rateLimit.requestsPerSecond=5", "--set", "rateLimit.burst=5"),
        *("--set", "httpRoute.enabled=true", "--set", "httpRoute.hostnames[0]=route.test"),
        *("--set", f"httpRoute.parentRefs[0].name={GATEWAY_NAME}"),
        *("--set", f"httpRoute.parentRefs[0].namespace={TRAEFIK_NAMESPACE}"),
        *("--set", "api.autoscaling.enabled=false", "--set", "bridge.autoscaling.enabled=false"),
        *("--set", "consumer.autoscaling.enabled=false"),
    ]
    ok(releases.helm("install", *args, "--wait", "--timeout", "5m"), "helm install bf-edge")
    try:
        yield releases
    finally:
        try:
            ok(releases.helm("uninstall", EDGE_RELEASE, "-n", EDGE_NAMESPACE), "helm uninstall bf-edge")
        finally:
            delete_namespace(core, EDGE_NAMESPACE)


def counted(api: client.ApiClient, namespace: str, release: str) -> int:
    return int(chart.report(api, namespace, release)["total_sales"])


def test_a_sale_posted_from_the_host_to_the_nodes_port_80_is_counted(readme: Releases) -> None:
    """Its price marks it: above any earlier run's (it grows with the clock), the report's highest price is it
    once it is counted (the release's total may also grow by sales an earlier release left in the topic)."""
    marker = round(100_000 + (time.time() % 10_000_000) / 20, 2)
    response = httpx.post(URL, json={**sale(f"edge-{uuid.uuid4().hex[:6]}"), "precio": marker}, timeout=20)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "stored"
    wait(lambda: chart.report(readme.api, NAMESPACE, RELEASE)["max_price"] == marker, 60, "the sale counted")


def test_only_purchase_is_routed(edge: Releases) -> None:
    for host in ("edge.test", "route.test"):
        assert httpx.get(f"http://{NODE_IP}/", headers={"host": host}, timeout=10).status_code == 404
        assert httpx.get(f"http://{NODE_IP}/metrics", headers={"host": host}, timeout=10).status_code == 404


@pytest.mark.parametrize("host", ["edge.test", "route.test"])
def test_one_client_over_its_rate_gets_429_while_another_is_served(edge: Releases, host: str) -> None:
    """Through the Ingress (edge.test) and the HTTPRoute (route.test): the host's burst of 40 is cut to the
    limit (5 a second, bursts of 5), while the node's client, at the same time, is served; the sales
    answered 201 are counted, the 429 ones are not."""
    before = counted(edge.api, EDGE_NAMESPACE, EDGE_RELEASE)
    product = f"burst-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        burst = pool.map(lambda _: post(host, product), range(40))  # submitted at once, answered below
        other = ns_run(
            [sys.executable, "-c", OTHER_CLIENT.replace("edge.test", host), URL, json.dumps(sale(product)), "2"]
        )
        codes = Counter(burst)
    elapsed = time.monotonic() - started
    assert set(codes) == {201, 429}, codes
    # at most the burst and the rate over the time it took (one token of slack for the clock's edges)
    assert codes[201] <= 5 + 5 * elapsed + 1, (codes, elapsed)
    assert json.loads(other.stdout) == [201, 201]
    stored = codes[201] + 2
    wait(lambda: counted(edge.api, EDGE_NAMESPACE, EDGE_RELEASE) == before + stored, 60, f"{stored} sales counted")
