"""The local cluster works as a Kubernetes must for the chart: a Ready node, pods of the project's image
reachable through Services and by DNS name, claims that bind, resource metrics, and a namespace sealed off
from the host's network; `down` leaves nothing behind."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bftools.cluster import Cluster, ClusterError, ClusterInfo, MissingPrerequisite, broker, ns_run
from bftools.cluster import host as cluster_host
from bftools.cluster import netns as cluster_netns
from bftools.cluster.config import K8S_VERSION, NODE_NAME, POD_CIDR, SERVICE_CIDR, STORAGE_CLASS, Layout
from bftools.cluster.kube import apply, deployment_ready, node_ready
from bftools.runtime.process import wait_for
from tests.cluster.conftest import Session

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1800)]

PAGE = "hello from the black-friday image"


def wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except ApiException as exc:
            last = exc
        time.sleep(1)
    pytest.fail(f"{what} not within {timeout:.0f}s" + (f" (last error: {last})" if last else ""))


def web(namespace: str, image: str) -> list[dict[str, Any]]:
    """A Deployment of the project's image serving a page (python's http.server), its Services."""
    labels = {"app": "web"}
    script = f"echo '{PAGE}' > /tmp/index.html && exec python -m http.server 8000 --directory /tmp"
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": image,
                                "command": ["sh", "-c", script],
                                "ports": [{"containerPort": 8000}],
                                "readinessProbe": {"httpGet": {"path": "/", "port": 8000}, "periodSeconds": 2},
                                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8000}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web-nodeport", "namespace": namespace},
            "spec": {"type": "NodePort", "selector": labels, "ports": [{"port": 80, "targetPort": 8000}]},
        },
    ]


def fetch_script(url: str, patience: float = 30) -> str:
    """Python that prints the page at ``url``, retrying while the Service's rules and DNS name appear."""
    return "\n".join(
        [
            "import time, urllib.request",
            f"deadline = time.monotonic() + {patience}",
            "while True:",
            "    try:",
            f"        print(urllib.request.urlopen({url!r}, timeout=5).read().decode().strip(), flush=True)",
            "        break",
            "    except OSError:",
            "        if time.monotonic() > deadline:",
            "            raise",
            "        time.sleep(0.5)",
        ]
    )


def http_text(url: str) -> str:
    try:
        return httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return ""


def pod_phase(core: client.CoreV1Api, namespace: str, name: str) -> str:
    pod = core.read_namespaced_pod(name, namespace, _request_timeout=5)
    return str(pod.status.phase if pod.status else "")


def test_the_node_is_ready_and_runs_the_pinned_kubernetes(api: client.ApiClient, cluster: ClusterInfo) -> None:
    assert node_ready(api, NODE_NAME)
    assert client.VersionApi(api).get_code(_request_timeout=5).git_version == K8S_VERSION
    node = client.CoreV1Api(api).read_node(NODE_NAME, _request_timeout=5)
    assert node.status is not None
    assert node.status.addresses is not None
    assert {(a.type, a.address) for a in node.status.addresses} >= {("InternalIP", cluster.node_ip)}


def test_the_project_image_runs_and_is_reached_by_service_ip_node_port_and_dns_name(
    api: client.ApiClient, cluster: ClusterInfo, namespace: str
) -> None:
    for manifest in web(namespace, cluster.app_image):
        apply(api, manifest)
    wait(lambda: deployment_ready(api, namespace, "web"), 180, "the web Deployment Ready")
    core = client.CoreV1Api(api)

    # inside the namespace, through kube-proxy's rules for the ClusterIP (synced within a few seconds)
    service = core.read_namespaced_service("web", namespace, _request_timeout=5)
    assert service.spec is not None
    fetched = ns_run([sys.executable, "-c", fetch_script(f"http://{service.spec.cluster_ip}/")], timeout=60)
    assert fetched.stdout.splitlines() == [PAGE]

    # from the host, through the veth, on the node's NodePort
    node_port = core.read_namespaced_service("web-nodeport", namespace, _request_timeout=5)
    assert node_port.spec is not None
    assert node_port.spec.ports is not None
    url = f"http://{cluster.node_ip}:{node_port.spec.ports[0].node_port}/"
    wait(lambda: PAGE in http_text(url), 30, f"the page at {url}")

    # from another pod, by the Service's DNS names (CoreDNS)
    names = ["web", f"web.{namespace}.svc.cluster.local"]
    script = "\n".join(fetch_script(f"http://{name}/") for name in names)
    apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": namespace},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "client", "image": cluster.app_image, "command": ["python", "-c", script]}],
            },
        },
    )
    wait(lambda: pod_phase(core, namespace, "client") in ("Succeeded", "Failed"), 120, "the client pod finished")
    logs = core.read_namespaced_pod_log("client", namespace, _request_timeout=10)
    assert pod_phase(core, namespace, "client") == "Succeeded", logs
    assert logs.splitlines() == [PAGE, PAGE]


def claim_phase(core: client.CoreV1Api, namespace: str, name: str) -> str:
    claim = core.read_namespaced_persistent_volume_claim(name, namespace, _request_timeout=5)
    return str(claim.status.phase if claim.status else "")


def test_claims_bind_for_a_pvc_and_a_statefulset_and_are_reclaimed_when_deleted(
    api: client.ApiClient, cluster: ClusterInfo, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "plain", "namespace": namespace},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}},
        },
    )
    wait(lambda: claim_phase(core, namespace, "plain") == "Bound", 60, "the plain claim Bound")
    plain = core.read_namespaced_persistent_volume_claim("plain", namespace, _request_timeout=5)
    assert plain.spec is not None
    assert plain.spec.storage_class_name == STORAGE_CLASS  # the default class

    labels = {"app": "store"}
    apply(
        api,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "store", "namespace": namespace},
            "spec": {
                "serviceName": "store",
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": {"runAsUser": 999, "runAsGroup": 999, "fsGroup": 999},
                        "containers": [
                            {
                                "name": "store",
                                "image": cluster.valkey_image,
                                "command": ["sh", "-c", "echo kept > /data/proof && exec sleep 3600"],
                                "readinessProbe": {"exec": {"command": ["cat", "/data/proof"]}, "periodSeconds": 2},
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            }
                        ],
                        "terminationGracePeriodSeconds": 1,
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}},
                    }
                ],
            },
        },
    )
    wait(lambda: claim_phase(core, namespace, "data-store-0") == "Bound", 60, "the StatefulSet's claim Bound")

    def store_ready() -> bool:
        sts = client.AppsV1Api(api).read_namespaced_stateful_set("store", namespace, _request_timeout=5)
        return bool(sts.status and sts.status.ready_replicas == 1)

    wait(store_ready, 120, "the StatefulSet Ready (uid 999 writing to its volume)")
    volumes = {
        c.spec.volume_name
        for c in core.list_namespaced_persistent_volume_claim(namespace, _request_timeout=5).items
        if c.spec is not None
    }
    paths = [Path(cluster.state) / "run" / "volumes" / str(name) for name in volumes]
    assert all(path.is_dir() for path in paths)

    # helm uninstall + deleting the claims: the provisioner deletes the volumes and their directories
    client.AppsV1Api(api).delete_namespaced_stateful_set("store", namespace, _request_timeout=10)
    wait(lambda: not core.list_namespaced_pod(namespace, _request_timeout=5).items, 90, "the StatefulSet's pod gone")
    for name in ("plain", "data-store-0"):
        core.delete_namespaced_persistent_volume_claim(name, namespace, _request_timeout=10)

    def remaining() -> set[str | None]:
        return {v.metadata.name for v in core.list_persistent_volume(_request_timeout=5).items if v.metadata}

    wait(lambda: not (volumes & remaining()), 60, "the released volumes deleted by the provisioner")
    assert not any(path.exists() for path in paths)


def test_the_valkey_image_keeps_the_charts_container_contract(
    api: client.ApiClient, cluster: ClusterInfo, namespace: str
) -> None:
    """sh, valkey-server, valkey-cli, sha256sum and env on PATH, as uid 999 on a read-only root file system (the
    StatefulSet runs node.sh, which hashes the users' passwords and execs valkey-server; probes call valkey-cli)."""
    script = "printf x | sha256sum && env -u HOME true && valkey-server --port 6379 --dir /tmp --save '' & "
    script += "until valkey-cli ping; do sleep 0.2; done; id -u"
    apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "valkey", "namespace": namespace},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": {"runAsUser": 999, "runAsGroup": 999, "runAsNonRoot": True},
                "containers": [
                    {
                        "name": "valkey",
                        "image": cluster.valkey_image,
                        "command": ["sh", "-c", script],
                        "securityContext": {
                            "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    )
    core = client.CoreV1Api(api)
    wait(lambda: pod_phase(core, namespace, "valkey") in ("Succeeded", "Failed"), 90, "the Valkey pod finished")
    logs = core.read_namespaced_pod_log("valkey", namespace, container="valkey", _request_timeout=10)
    assert pod_phase(core, namespace, "valkey") == "Succeeded", logs
    assert logs.splitlines()[-2:] == ["PONG", "999"], logs


#: Run in a pod: a client without a login and the consumer's login are refused, the writer's produces.
KAFKA_POD_SCRIPT = """\
import os, sys
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError, TopicAuthorizationFailedError
bootstrap, topic = sys.argv[1], sys.argv[2]
def login(user):
    return dict(security_protocol="SASL_SSL", ssl_cafile="/kafka/ca.crt", sasl_mechanism="SCRAM-SHA-512",
                sasl_plain_username=os.environ[user.upper() + "_USERNAME"],
                sasl_plain_password=os.environ[user.upper() + "_PASSWORD"])
try:
    KafkaProducer(bootstrap_servers=bootstrap, bootstrap_timeout_ms=5000)
    print("anonymous: connected")
except KafkaTimeoutError:
    print("anonymous: refused")
forger = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=10000, **login("consumer"))
try:
    forger.send(topic, b"forged").get(timeout=30)
    print("consumer: wrote")
except TopicAuthorizationFailedError:
    print("consumer: refused")
forger.close(timeout=5)
p = KafkaProducer(bootstrap_servers=bootstrap, **login("writer"))
p.send(topic, b"from a pod").get(timeout=30)
p.close()
print("writer: sent")
"""


def test_pods_reach_the_kafka_broker_inside_the_namespace_with_a_login_only(
    api: client.ApiClient, cluster: ClusterInfo, namespace: str
) -> None:
    """The broker listens and advertises on the node's address (SASL_SSL): from a pod, a client without a
    login is refused, the consumer's login may not write the topic, the writer's produces; the host reads
    the one record back."""
    topic = f"cluster-test-{namespace}"
    broker.create_pipeline(topic, topic)
    admin = KafkaAdminClient(**broker.client_config(), client_id="cluster-test")
    try:
        assert {cluster.kafka_topic, topic} <= set(admin.list_topics())
    finally:
        admin.close()
    broker.apply_client_secret(api, namespace)

    def from_secret(variable: str, key: str) -> dict[str, Any]:
        return {"name": variable, "valueFrom": {"secretKeyRef": {"name": broker.KAFKA_SECRET, "key": key}}}

    apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "producer", "namespace": namespace},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "producer",
                        "image": cluster.app_image,
                        "command": ["python", "-c", KAFKA_POD_SCRIPT, cluster.kafka_bootstrap, topic],
                        "env": [
                            from_secret(f"{user.upper()}_{part.upper()}", f"{user}-{part}")
                            for user in ("writer", "consumer")
                            for part in ("username", "password")
                        ],
                        "volumeMounts": [{"name": "kafka", "mountPath": "/kafka", "readOnly": True}],
                    }
                ],
                "volumes": [
                    {
                        "name": "kafka",
                        "secret": {"secretName": broker.KAFKA_SECRET, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
                    }
                ],
            },
        },
    )
    core = client.CoreV1Api(api)
    wait(lambda: pod_phase(core, namespace, "producer") in ("Succeeded", "Failed"), 150, "the producer pod finished")
    logs = core.read_namespaced_pod_log("producer", namespace, _request_timeout=10)
    assert pod_phase(core, namespace, "producer") == "Succeeded", logs
    assert [line for line in logs.splitlines() if ": " in line and line.split(": ")[0] in PARTS] == [
        "anonymous: refused",
        "consumer: refused",
        "writer: sent",
    ], logs
    consumer = KafkaConsumer(topic, **broker.client_config(), auto_offset_reset="earliest", consumer_timeout_ms=20000)
    try:
        assert [r.value for r in consumer] == [b"from a pod"]  # the forged record is not there
    finally:
        consumer.close()


PARTS = ("anonymous", "consumer", "writer")


def test_a_missing_binary_is_a_one_line_reason(tmp_path: Path) -> None:
    layout = Layout(state=tmp_path / "state", bin=tmp_path / "bin", cache=tmp_path)
    with pytest.raises(MissingPrerequisite, match=r"^etcd binary missing in .*: run scripts/setup k8s$"):
        Cluster(layout=layout).check_prerequisites()


def test_a_namespace_left_by_a_dead_clones_cluster_is_taken_over_and_a_live_ones_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other-clone"
    other.mkdir()
    monkeypatch.setattr(cluster_netns, "owner", lambda: str(other))
    mine = Cluster(layout=Layout(state=tmp_path / "mine", bin=tmp_path / "bin", cache=tmp_path))
    sleeper = subprocess.Popen(["sleep", "600"])
    cmdline = Path(f"/proc/{sleeper.pid}/cmdline")
    assert wait_for(lambda: cmdline.read_bytes().startswith(b"sleep\0"), 10), "sleep did not start"
    try:
        recorded = {"name": "etcd", "pid": sleeper.pid, "log": str(other / "etcd.log"), "marker": "sleep 600"}
        (other / "state.json").write_text(json.dumps({"procs": [recorded]}))
        with pytest.raises(ClusterError, match=r"belongs to another clone's cluster \(.*other-clone\)"):
            mine.up()
    finally:
        sleeper.kill()
        sleeper.wait()
    # the other clone's processes are gone (its run was killed): past the ownership check, on to the binaries
    with pytest.raises(MissingPrerequisite, match=r"^etcd binary missing"):
        mine.up()


def test_one_up_or_down_runs_at_a_time_on_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.import_module("bftools.cluster.cluster"), "LOCK_FILE", tmp_path / "bf-k8s.lock")
    said: list[str] = []
    first = Cluster(layout=Layout(state=tmp_path / "a", bin=tmp_path / "bin", cache=tmp_path))
    second = Cluster(layout=Layout(state=tmp_path / "b", bin=tmp_path / "bin", cache=tmp_path), say=said.append)
    entered: list[str] = []

    def other_clone() -> None:
        with second._exclusive():
            entered.append("second")

    with first._exclusive():
        with first._exclusive():  # up calls down: the holder enters again
            pass
        waiting = threading.Thread(target=other_clone)
        waiting.start()
        assert wait_for(lambda: bool(said), 10), "the second never tried the lock"
        assert said == ["waiting for another cluster-up or cluster-down on this machine to finish"]
        assert entered == []
    waiting.join(10)
    assert entered == ["second"]


def test_metrics_server_serves_pod_metrics(api: client.ApiClient, cluster: ClusterInfo) -> None:
    metrics = client.CustomObjectsApi(api)

    def coredns_cpu() -> bool:
        listed: dict[str, Any] = metrics.list_namespaced_custom_object(  # type: ignore[assignment]
            "metrics.k8s.io", "v1beta1", "kube-system", "pods", _request_timeout=10
        )
        return any(
            item["metadata"]["name"].startswith("coredns-") and "cpu" in item["containers"][0]["usage"]
            for item in listed.get("items", [])
        )

    wait(coredns_cpu, 150, "CoreDNS's CPU usage in the resource metrics API")
    node: dict[str, Any] = metrics.get_cluster_custom_object(  # type: ignore[assignment]
        "metrics.k8s.io", "v1beta1", "nodes", NODE_NAME, _request_timeout=10
    )
    assert {"cpu", "memory"} <= set(node["usage"])


def test_the_namespace_is_sealed_off_from_the_host_network(cluster: ClusterInfo) -> None:
    state = cluster_netns.host_state()
    assert set(state.blackholes) == {str(POD_CIDR), str(SERVICE_CIDR)}
    assert state.rules == 2
    routes = ns_run(["ip", "-4", "route", "show"]).stdout
    assert "default" not in routes, routes
    # a route lookup only (no packet is sent): nothing outside is reachable from the namespace
    lookup = ns_run(["ip", "route", "get", "198.51.100.7"], check=False)
    assert lookup.returncode != 0
    assert "unreachable" in lookup.stderr.lower()


@pytest.mark.cluster_teardown
def test_down_stops_everything_and_leaves_nothing_on_the_host(cluster_session: Session) -> None:
    info = cluster_session.ensure()
    cluster = cluster_session.cluster
    pids = [proc.pid for proc in cluster.procs()]
    assert pids
    cluster.down()
    try:
        assert not [pid for pid in pids if os.path.exists(f"/proc/{pid}")], "a recorded process survived"
        assert cluster_netns.host_state().clean, cluster_netns.host_state()
        assert not cluster_host.mounts_under(info.state)
        assert not cluster_host.cgroup_roots()
        assert not cluster_host.shims(cluster.layout.containerd_socket)
        assert not (Path(info.state) / "run").exists()
        assert cluster.status().procs == []
    finally:
        if cluster_session.reused:  # the user's cluster: bring it back as it was (running)
            cluster_session.ensure()
        else:
            cluster_session.started = False
