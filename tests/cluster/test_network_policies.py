"""The chart's NetworkPolicies enforced (kube-router's firewall, started by `make cluster-up`): every path the
pipeline needs works, and the forbidden ones are refused within 3 s.

Each probe is a pod (the project's image) with the labels of the identity it stands for; it first waits until
its allowed targets answer (a new pod's address is admitted by the policy agent within seconds: until then,
even allowed connections are refused), then tries each forbidden target once, with a 3 s timeout. A probe
that stands for a service's pods never becomes Ready (a readiness probe that always fails), so no Service
ever sends it traffic."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client

from bftools.cluster import ns_run
from bftools.cluster import release as chart
from bftools.cluster.config import KAFKA_BOOTSTRAP, KUBE_ROUTER_HEALTH_PORT, NODE_IP
from bftools.cluster.kube import apply
from tests.cluster.releases import NAMESPACE, RELEASE, Releases, ok, wait

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]

PROBE = """\
import json, socket, sys, time

def attempt(host, port, timeout):
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            outcome = "connected"
    except ConnectionRefusedError:
        outcome = "refused"
    except TimeoutError:
        outcome = "timeout"
    except OSError as exc:
        outcome = f"error: {exc}"
    return outcome, round(time.monotonic() - started, 2)

def resolve(host):
    # the cluster DNS may still answer "unknown" for a pod's name it looked up before the pod was ready
    deadline = time.monotonic() + 60
    while True:
        try:
            return socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0]
        except socket.gaierror:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)

allowed, forbidden = json.loads(sys.argv[1]), json.loads(sys.argv[2])
addresses = {host: resolve(host) for host, _ in allowed + forbidden}
results = {}
for host, port in allowed:
    deadline = time.monotonic() + 60
    outcome, seconds = attempt(addresses[host], port, 3)
    while outcome != "connected" and time.monotonic() < deadline:
        time.sleep(0.5)
        outcome, seconds = attempt(addresses[host], port, 3)
    results[f"{host}:{port}"] = outcome
for host, port in forbidden:
    outcome, seconds = attempt(addresses[host], port, 3)
    results[f"{host}:{port}"] = f"{outcome} {seconds}"
print(json.dumps(results))
"""

SVC = f"{NAMESPACE}.svc.cluster.local"
VALKEY = (f"{RELEASE}-valkey-primary.{SVC}", 6379)
VALKEY_REPLICA = (f"{RELEASE}-valkey-1.{RELEASE}-valkey-headless.{SVC}", 6379)
WRITER = (f"{RELEASE}-writer.{SVC}", 50051)
BRIDGE = (f"{RELEASE}-bridge.{SVC}", 8081)
API = (f"{RELEASE}-api.{SVC}", 8080)
KAFKA = (NODE_IP, int(KAFKA_BOOTSTRAP.rsplit(":", 1)[1]))


def _labels(name: str) -> dict[str, str]:
    """The labels of a pod of the release's component ``name`` (what the policies select on)."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/part-of": "black-friday",
    }


def probe(
    api: client.ApiClient,
    image: str,
    namespace: str,
    labels: dict[str, str],
    allowed: list[tuple[str, int]],
    forbidden: list[tuple[str, int]],
) -> dict[str, str]:
    """Run a probe pod; what each target answered ("connected"; forbidden ones: "<outcome> <seconds>")."""
    name = f"probe-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "containers": [
                    {
                        "name": "probe",
                        "image": image,
                        "command": ["python", "-c", PROBE, json.dumps(allowed), json.dumps(forbidden)],
                        "readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 60},
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 10001,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
        },
    )
    try:
        wait(lambda: _phase(core, namespace, name) in ("Succeeded", "Failed"), 180, f"the probe {name} finished")
        logs = core.read_namespaced_pod_log(name, namespace, _request_timeout=10)
        assert _phase(core, namespace, name) == "Succeeded", logs
        results: dict[str, str] = json.loads(logs.strip().splitlines()[-1])
        return results
    finally:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0, _request_timeout=10)


def _phase(core: client.CoreV1Api, namespace: str, name: str) -> str:
    pod = core.read_namespaced_pod(name, namespace, _request_timeout=5)
    return str(pod.status.phase if pod.status else "")


def assert_paths(results: dict[str, str], allowed: list[tuple[str, int]], forbidden: list[tuple[str, int]]) -> None:
    for host, port in allowed:
        assert results[f"{host}:{port}"] == "connected", f"{host}:{port} should be reachable: {results}"
    for host, port in forbidden:
        outcome, seconds = results[f"{host}:{port}"].split(" ", 1)
        assert outcome in ("refused", "timeout"), f"{host}:{port} should be refused by policy: {results}"
        assert float(seconds) <= 3.5, f"{host}:{port} took {seconds}s to be refused"


@pytest.fixture
def image(readme: Releases) -> str:
    return readme.info.app_image


@pytest.fixture
def elsewhere(readme: Releases) -> Iterator[str]:
    """Another namespace than the release's."""
    name = f"bf-np-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(readme.api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)), _request_timeout=10)
    yield name
    core.delete_namespace(name, _request_timeout=10)


def test_the_policy_engine_runs_on_the_node(readme: Releases) -> None:
    """kube-router answers its health check and has put its chains in front of the release's pods."""
    assert httpx.get(f"http://{NODE_IP}:{KUBE_ROUTER_HEALTH_PORT}/healthz", timeout=5).status_code == 200
    rules = ns_run(["iptables", "-S", "KUBE-ROUTER-FORWARD"]).stdout
    valkey_pods = client.CoreV1Api(readme.api).list_namespaced_pod(
        NAMESPACE, label_selector=f"{chart.INSTANCE}={RELEASE},app.kubernetes.io/name=valkey", _request_timeout=10
    )
    for pod in valkey_pods.items:
        assert pod.status is not None
        assert f"-d {pod.status.pod_ip}/32" in rules, f"no kube-router rule for the Valkey pod {pod.status.pod_ip}"


def test_another_namespace_reaches_the_api_only(readme: Releases, image: str, elsewhere: str) -> None:
    """A pod in another namespace: the public api answers (and DNS names resolve); Valkey, the writer's gRPC
    port and the bridge refuse it."""
    allowed, forbidden = [API], [VALKEY, VALKEY_REPLICA, WRITER, BRIDGE]
    assert_paths(probe(readme.api, image, elsewhere, {"app": "outsider"}, allowed, forbidden), allowed, forbidden)


def test_the_api_reaches_the_bridge_but_not_valkey(readme: Releases, image: str) -> None:
    allowed, forbidden = [BRIDGE], [VALKEY, WRITER]
    assert_paths(probe(readme.api, image, NAMESPACE, _labels("api"), allowed, forbidden), allowed, forbidden)


def test_the_bridge_reaches_the_writer(readme: Releases, image: str) -> None:
    allowed, forbidden = [WRITER], [VALKEY]
    assert_paths(probe(readme.api, image, NAMESPACE, _labels("bridge"), allowed, forbidden), allowed, forbidden)


def test_the_writer_and_the_consumer_reach_kafka_and_the_consumer_valkey(readme: Releases, image: str) -> None:
    allowed: list[tuple[str, int]] = [KAFKA]
    assert_paths(probe(readme.api, image, NAMESPACE, _labels("writer"), allowed, []), allowed, [])
    allowed = [KAFKA, VALKEY, VALKEY_REPLICA]
    assert_paths(probe(readme.api, image, NAMESPACE, _labels("consumer"), allowed, []), allowed, [])


def test_a_pod_of_the_release_without_an_allowed_label_is_refused_by_valkey(readme: Releases, image: str) -> None:
    allowed, forbidden = [API], [VALKEY, VALKEY_REPLICA, WRITER]
    labels = _labels("intruder")
    assert_paths(probe(readme.api, image, NAMESPACE, labels, allowed, forbidden), allowed, forbidden)


def test_the_pipeline_the_helm_tests_and_the_hpas_work_under_the_policies(readme: Releases) -> None:
    """A sale through api -> bridge -> writer -> Kafka -> consumer -> Valkey (the smoke test), Valkey's
    replication (the Valkey test), and the HPAs reading the pods' CPU from metrics-server."""
    ok(readme.helm("test", RELEASE, "-n", NAMESPACE, "--timeout", "4m"), "helm test")
    autoscaling = client.AutoscalingV2Api(readme.api)

    def cpu_read() -> bool:
        hpa: Any = autoscaling.read_namespaced_horizontal_pod_autoscaler(f"{RELEASE}-api", NAMESPACE)
        # until metrics-server answers, the status may hold an entry of no type (resource None)
        metrics: Any = (hpa.status.current_metrics if hpa.status else None) or []
        return any(m.resource and m.resource.current.average_utilization is not None for m in metrics)

    wait(cpu_read, 120, "the api HPA reading CPU")
