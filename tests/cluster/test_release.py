"""The chart on a real API server, with the real helm and the kubernetes client, on the local cluster.

One release (`bf`) is installed as the README says (values/dev.yaml + the cluster's values file, the
project's broker as an existing Kafka) and carries most checks, in this file's order: Ready, replication,
`helm test`, a sale from outside the pods counted once and read back as `make report` reads it, the HPAs'
CPU, an upgrade that changes exactly what it says, a volume size change stopped at render, a rollback, and
`helm uninstall` leaving only what the README says stays. values/prod.yaml and values/dev.yaml in Strimzi
mode are installed in namespaces of their own beside it (their pods kept from starting by a ResourceQuota of
zero pods: they would not fit on 2 cores, and admission is what they prove), with the Strimzi CRDs of
../shared; the objects are read back from the API server, then uninstalled.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError
from kubernetes.utils import parse_quantity

from bftools.cluster import ClusterInfo, ns_run
from bftools.cluster import release as chart
from bftools.cluster.kube import apply
from tests.cluster.conftest import Session
from tests.conftest import SHARED

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]

RELEASE = "bf"
NAMESPACE = "black-friday"
PROD_NAMESPACE = "bf-admit-prod"
STRIMZI_NAMESPACE = "bf-admit-strimzi"
STRIMZI_RELEASE = "bf-dev"
#: Where values/dev.yaml and values/prod.yaml put Kafka (global.kafka.namespace).
KAFKA_NAMESPACE = "kafka"
CRDS = SHARED / "crds" / "strimzi-1.2.0"
#: Labels of a namespace where every pod must meet the restricted Pod Security Standard (the API server
#: checks the pod templates of the workloads too, and says so in a warning that helm prints).
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}


def wait(condition: Callable[[], bool], timeout: float, what: str, interval: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            if condition():
                return
        except ApiException as exc:
            last = exc
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout:.0f}s" + (f" (last error: {last})" if last else ""))
        time.sleep(interval)


def ok(done: subprocess.CompletedProcess[str], what: str) -> str:
    assert done.returncode == 0, f"{what} failed:\n{done.stderr}"
    return done.stdout


def manifest(kubeconfig: Path, release: str, namespace: str) -> list[dict[str, Any]]:
    """Every object of the release's current revision, as helm applied it."""
    text = ok(chart.helm(kubeconfig, "get", "manifest", release, "-n", namespace), "helm get manifest")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def revision(kubeconfig: Path, release: str, namespace: str) -> tuple[int, str]:
    status = json.loads(ok(chart.helm(kubeconfig, "status", release, "-n", namespace, "-o", "json"), "helm status"))
    return int(status["version"]), str(status["info"]["status"])


def helm_records(api: client.ApiClient, namespace: str, release: str) -> list[str]:
    """helm's records of the release (a Secret per revision, whatever its status)."""
    secrets = client.CoreV1Api(api).list_namespaced_secret(
        namespace, label_selector=f"owner=helm,name={release}", _request_timeout=10
    )
    return [s.metadata.name for s in secrets.items if s.metadata and s.metadata.name]


#: Fields the API server or the controllers write, which differ between two reads of the same object.
VOLATILE = ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid")


class Objects:
    """Reads any kind through the API server's discovery (the dynamic client)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.dynamic = DynamicClient(api)  # type: ignore[no-untyped-call]

    def get(self, obj: dict[str, Any], namespace: str) -> dict[str, Any] | None:
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        meta = obj["metadata"]
        try:
            found = resource.get(
                name=meta["name"], namespace=meta.get("namespace", namespace) if resource.namespaced else None
            )
        except NotFoundError:
            return None
        live: dict[str, Any] = found.to_dict()
        return live

    def snapshot(self, objects: list[dict[str, Any]], namespace: str) -> dict[str, Any]:
        """kind/namespace/name -> the live object without status and volatile metadata."""
        snap: dict[str, Any] = {}
        for obj in objects:
            live = self.get(obj, namespace)
            assert live is not None, f"{obj['kind']} {obj['metadata']['name']} is not in the cluster"
            live.pop("status", None)
            for key in VOLATILE:
                live["metadata"].pop(key, None)
            live["metadata"].get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
            snap[f"{obj['kind']}/{live['metadata'].get('namespace', '')}/{live['metadata']['name']}"] = live
        return snap


def same_quantity(a: Any, b: Any) -> bool:
    try:
        return bool(parse_quantity(a) == parse_quantity(b))  # type: ignore[no-untyped-call]
    except ValueError:
        return False


def missing(rendered: Any, live: Any, path: str = "") -> list[str]:
    """Where the live object lacks or changed what the chart rendered (the server may add defaults; a
    quantity may come back canonical: 1024Mi as 1Gi)."""
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            return [f"{path}: rendered an object, live {live!r}"]
        return [p for key, value in rendered.items() for p in missing(value, live.get(key), f"{path}.{key}")]
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            return [f"{path}: rendered {rendered!r}, live {live!r}"]
        return [p for n, (r, v) in enumerate(zip(rendered, live, strict=True)) for p in missing(r, v, f"{path}[{n}]")]
    if rendered == live or (isinstance(rendered, (str, int, float)) and same_quantity(rendered, live)):
        return []
    if rendered is None and live is None:
        return []
    return [f"{path}: rendered {rendered!r}, live {live!r}"]


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """path -> (before, after) of every leaf that changed between two snapshots."""
    changes: dict[str, tuple[Any, Any]] = {}

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for n, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{path}[{n}]")
        elif a != b:
            changes[path] = (a, b)

    walk(before, after, "")
    return changes


# ---- the releases -----------------------------------------------------------------------------------------


@dataclass
class Install:
    """A helm install running in the background (so that several run at once)."""

    what: str
    process: subprocess.Popen[str]
    started: float = field(default_factory=time.monotonic)
    result: tuple[int, str, str] | None = None
    seconds: float = 0.0

    def done(self, timeout: float = 400) -> tuple[int, str, str]:
        if self.result is None:
            out, err = self.process.communicate(timeout=timeout)
            self.seconds = time.monotonic() - self.started
            self.result = (self.process.returncode, out, err)
        return self.result

    def succeeded(self) -> str:
        code, out, err = self.done()
        assert code == 0, f"{self.what} failed:\n{err}"
        return out


def start_helm(info: ClusterInfo, what: str, *args: str) -> Install:
    if not chart.HELM.is_file():
        pytest.fail(f"helm is not installed at {chart.HELM}: run scripts/setup helm")
    process = subprocess.Popen(
        [str(chart.HELM), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**chart.helm_env(), "KUBECONFIG": str(info.kubeconfig)},
    )
    return Install(what, process)


@dataclass
class Context:
    info: ClusterInfo
    api: client.ApiClient
    objects: Objects
    main: Install
    created_kafka_namespace: bool = False
    created_crds: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def helm(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return chart.helm(self.info.kubeconfig, *args, timeout=timeout)


def terminating(core: client.CoreV1Api, name: str) -> bool:
    try:
        found = core.read_namespace(name, _request_timeout=10)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return bool(found.status and found.status.phase == "Terminating")


def delete_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.delete_namespace(name, _request_timeout=10)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture(scope="module")
def ctx(cluster_session: Session) -> Iterator[Context]:
    info = cluster_session.ensure()
    with cluster_session.cluster.api() as api:
        core = client.CoreV1Api(api)
        ours = (NAMESPACE, PROD_NAMESPACE, STRIMZI_NAMESPACE)
        # a previous session's namespaces may still be terminating on a reused cluster
        wait(lambda: not any(terminating(core, n) for n in ours), 120, "the previous run's namespaces deleted")
        taken = [n for n in ours if chart.namespace_exists(core, n)]
        if taken or chart.chart_consumers(api):
            pytest.fail(
                f"the cluster already has the namespaces {taken} or a release of the chart "
                f"({chart.chart_consumers(api)}), whose consumer would share the broker's consumer group: "
                "uninstall it, "
                "or make cluster-down for a fresh cluster"
            )
        # The README's install, in the background while the Strimzi-mode releases are checked.
        main = start_helm(
            info,
            "helm install (the README's)",
            "install",
            *chart.readme_install(RELEASE, NAMESPACE, info.values_file),
            "--wait",
            "--timeout",
            "4m",
        )
        context = Context(info=info, api=api, objects=Objects(api), main=main)
        try:
            yield context
        finally:
            main.done()
            for release, namespace in (
                (RELEASE, NAMESPACE),
                ("bf", PROD_NAMESPACE),
                (STRIMZI_RELEASE, STRIMZI_NAMESPACE),
            ):
                chart.helm(info.kubeconfig, "uninstall", release, "-n", namespace, "--wait", "--ignore-not-found")
            for namespace in (NAMESPACE, PROD_NAMESPACE, STRIMZI_NAMESPACE):
                delete_namespace(core, namespace)
            if context.created_kafka_namespace:
                delete_namespace(core, KAFKA_NAMESPACE)
            for crd in context.created_crds:
                client.ApiextensionsV1Api(api).delete_custom_resource_definition(crd, _request_timeout=30)


def admission_namespace(api: client.ApiClient, name: str) -> None:
    """A namespace where the restricted Pod Security Standard is enforced and no pod may start."""
    apply(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}})
    apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "no-pods", "namespace": name},
            "spec": {"hard": {"pods": "0"}},
        },
    )


@pytest.fixture(scope="module")
def strimzi(ctx: Context) -> Context:
    """The Strimzi 1.2 CRDs from ../shared on the cluster (its operator cannot run here), and the namespace
    the values put Kafka in."""
    if not CRDS.is_dir():
        pytest.skip(f"{CRDS} is absent (only the project's CI workspace has ../shared): Strimzi mode not checked")
    ext = client.ApiextensionsV1Api(ctx.api)
    names = []
    for path in sorted(CRDS.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                names.append(crd["metadata"]["name"])
                try:
                    ext.read_custom_resource_definition(crd["metadata"]["name"], _request_timeout=10)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                    ctx.created_crds.append(crd["metadata"]["name"])
                apply(ctx.api, crd, timeout=60)
    assert len(names) == 3, names

    def established() -> bool:
        for name in names:
            crd = ext.read_custom_resource_definition(name, _request_timeout=10)
            conditions = crd.status.conditions if crd.status and crd.status.conditions else []
            if not any(c.type == "Established" and c.status == "True" for c in conditions):
                return False
        return True

    wait(established, 60, "the Strimzi CRDs Established")
    if not chart.namespace_exists(client.CoreV1Api(ctx.api), KAFKA_NAMESPACE):
        ctx.created_kafka_namespace = True
        apply(ctx.api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KAFKA_NAMESPACE}})
    return ctx


# ---- Strimzi mode and values/prod.yaml: admission ------------------------------------------------------


def test_a_missing_kafka_namespace_stops_the_install_at_render(strimzi: Context) -> None:
    """Strimzi mode with global.kafka.namespace naming no namespace: the chart's own message (it was the API
    server's `namespaces "kafka" not found` for every Strimzi object), and nothing installed."""
    absent = f"bf-absent-{uuid.uuid4().hex[:6]}"
    done = strimzi.helm(
        "install", "bf", str(chart.CHART), "-n", "default", "-f", str(chart.VALUES / "prod.yaml"),
        "--set", f"global.kafka.namespace={absent}",
    )  # fmt: skip
    assert done.returncode != 0
    assert f'global.kafka.namespace is "{absent}", but the cluster has no namespace "{absent}"' in done.stderr
    assert "kubectl create namespace" in done.stderr
    assert not helm_records(strimzi.api, "default", "bf")


def strimzi_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["apiVersion"].startswith("kafka.strimzi.io/")]


@pytest.fixture(scope="module")
def admitted(strimzi: Context) -> Context:
    """values/prod.yaml (release bf) and values/dev.yaml in Strimzi mode (release bf-dev, Grafana on), each in
    a namespace of its own, both with Kafka in the namespace "kafka"."""
    for namespace in (PROD_NAMESPACE, STRIMZI_NAMESPACE):
        admission_namespace(strimzi.api, namespace)
    prod = start_helm(
        strimzi.info, "helm install values/prod.yaml",
        "install", "bf", str(chart.CHART), "-n", PROD_NAMESPACE, "-f", str(chart.VALUES / "prod.yaml"),
    )  # fmt: skip
    dev = start_helm(
        strimzi.info, "helm install values/dev.yaml in Strimzi mode",
        "install", STRIMZI_RELEASE, str(chart.CHART), "-n", STRIMZI_NAMESPACE, "-f", str(chart.VALUES / "dev.yaml"),
    )  # fmt: skip
    strimzi.notes["prod"] = prod.succeeded()
    strimzi.notes["prod-stderr"] = prod.done()[2]
    strimzi.notes["dev"] = dev.succeeded()
    strimzi.notes["dev-stderr"] = dev.done()[2]
    return strimzi


@pytest.mark.parametrize(("release", "namespace"), [("bf", PROD_NAMESPACE), (STRIMZI_RELEASE, STRIMZI_NAMESPACE)])
def test_every_object_is_admitted_and_read_back_as_rendered(admitted: Context, release: str, namespace: str) -> None:
    """Each object helm applied is in the API server with every field the chart rendered (a CRD's schema
    would prune an unknown field silently), and the restricted Pod Security Standard raised no warning."""
    stderr = admitted.notes["prod-stderr" if namespace == PROD_NAMESPACE else "dev-stderr"]
    assert "PodSecurity" not in stderr, stderr
    objects = manifest(admitted.info.kubeconfig, release, namespace)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "StatefulSet", "HorizontalPodAutoscaler", "Ingress", "PersistentVolumeClaim"} <= kinds
    assert {"Kafka", "KafkaNodePool", "KafkaTopic"} <= kinds
    problems = []
    for obj in objects:
        live = admitted.objects.get(obj, namespace)
        if live is None:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: not in the cluster")
            continue
        for key in ("spec", "data", "rules", "roleRef", "subjects"):
            if key in obj:
                problems += [f"{obj['kind']} {obj['metadata']['name']} {p}" for p in missing(obj[key], live.get(key))]
        problems += [
            f"{obj['kind']} {obj['metadata']['name']} labels {p}"
            for p in missing(obj["metadata"].get("labels", {}), live["metadata"].get("labels", {}))
        ]
    assert not problems, "\n".join(problems)


def test_the_strimzi_resources_carry_the_values(admitted: Context) -> None:
    """Kafka, the node pools and the two topics of both releases, side by side in the namespace "kafka"."""
    custom = client.CustomObjectsApi(admitted.api)

    def get(plural: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = custom.get_namespaced_custom_object(  # type: ignore[assignment]
            "kafka.strimzi.io", "v1", KAFKA_NAMESPACE, plural, name, _request_timeout=10
        )
        return found

    prod = yaml.safe_load((chart.VALUES / "prod.yaml").read_text())["kafka"]
    dev = yaml.safe_load((chart.VALUES / "dev.yaml").read_text())["kafka"]
    for cluster, values in (("bf", prod), (STRIMZI_RELEASE, dev)):
        kafka = get("kafkas", cluster)
        assert kafka["metadata"]["annotations"]["meta.helm.sh/release-name"] == cluster
        assert kafka["spec"]["kafka"]["listeners"][0]["port"] == 9092
        for pool in values["nodePools"]:
            live = get("kafkanodepools", f"{cluster}-{pool['name']}")
            assert live["metadata"]["labels"]["strimzi.io/cluster"] == cluster
            assert live["spec"]["replicas"] == pool["replicas"]
            assert live["spec"]["roles"] == pool["roles"]
            assert live["spec"]["storage"]["type"] == pool["storage"]["type"]
            if pool["storage"]["type"] == "persistent-claim":
                assert live["spec"]["storage"]["size"] == pool["storage"]["size"]
                assert live["spec"]["storage"]["deleteClaim"] is False
            assert not missing(pool["resources"], live["spec"]["resources"])
            assert live["spec"]["jvmOptions"] == pool["jvmOptions"]
        for topic in ("sales-topic", "sales-topic-dlq"):
            live = get("kafkatopics", f"{cluster}-{topic}")
            assert live["spec"]["topicName"] == topic
            assert live["spec"]["partitions"] == values["topic"]["partitions"]
            assert live["spec"]["replicas"] == values["topic"].get("replicas", 1)
            assert live["metadata"]["labels"]["strimzi.io/cluster"] == cluster
    assert get("kafkas", "bf")["spec"]["kafka"]["config"]["min.insync.replicas"] == 2


def test_a_release_whose_kafka_name_is_taken_stops_at_render(admitted: Context) -> None:
    """A third release named bf, in yet another namespace, with Kafka in "kafka": the chart says which value
    to change (helm said `Kafka "bf" in namespace "kafka" exists and cannot be imported`)."""
    done = admitted.helm(
        "install", "bf", str(chart.CHART), "-n", "default", "-f", str(chart.VALUES / "prod.yaml"),
    )  # fmt: skip
    assert done.returncode != 0
    assert 'the namespace "kafka" already has a Kafka cluster "bf", of the release "bf" of namespace' in done.stderr
    assert "--set global.kafka.clusterName=bf-default" in done.stderr
    assert not helm_records(admitted.api, "default", "bf")


def test_grafanas_volume_cannot_change_size_and_the_chart_says_so(admitted: Context) -> None:
    """On values/prod.yaml's release (Grafana's claim 5Gi, bound): a larger and a smaller size are stopped
    at render with the chart's message; the release stays at its revision."""
    before = revision(admitted.info.kubeconfig, "bf", PROD_NAMESPACE)
    prod = ["-n", PROD_NAMESPACE, "-f", str(chart.VALUES / "prod.yaml")]
    grow = admitted.helm("upgrade", "bf", str(chart.CHART), *prod, "--set", "grafana.persistence.size=6Gi")
    assert grow.returncode != 0
    assert "grafana.persistence.size: the Grafana volume was created with 5Gi and cannot become 6Gi" in grow.stderr
    assert "does not allow volume expansion" in grow.stderr
    shrink = admitted.helm("upgrade", "bf", str(chart.CHART), *prod, "--set", "grafana.persistence.size=4Gi")
    assert "a claim cannot shrink to 4Gi" in shrink.stderr
    assert revision(admitted.info.kubeconfig, "bf", PROD_NAMESPACE) == before
    # the same size written another way is no change
    same = admitted.helm("upgrade", "bf", str(chart.CHART), *prod, "--set", "grafana.persistence.size=5120Mi")
    ok(same, "helm upgrade with 5120Mi")
    assert revision(admitted.info.kubeconfig, "bf", PROD_NAMESPACE) == (before[0] + 1, "deployed")


def test_uninstalling_the_admitted_releases_leaves_the_kept_secrets_and_nothing_in_kafka(admitted: Context) -> None:
    for release, namespace in (("bf", PROD_NAMESPACE), (STRIMZI_RELEASE, STRIMZI_NAMESPACE)):
        ok(admitted.helm("uninstall", release, "-n", namespace, "--wait"), f"helm uninstall {release}")
    custom = client.CustomObjectsApi(admitted.api)
    for plural in ("kafkas", "kafkanodepools", "kafkatopics"):
        listed: dict[str, Any] = custom.list_namespaced_custom_object(  # type: ignore[assignment]
            "kafka.strimzi.io", "v1", KAFKA_NAMESPACE, plural, _request_timeout=10
        )
        assert [i["metadata"]["name"] for i in listed["items"]] == [], plural
    core = client.CoreV1Api(admitted.api)
    secrets = {
        s.metadata.name for s in core.list_namespaced_secret(PROD_NAMESPACE, _request_timeout=10).items if s.metadata
    }
    assert secrets == {"bf-valkey", "bf-grafana"}


# ---- the README's release ---------------------------------------------------------------------------------


def test_the_readme_install_succeeds_and_everything_is_ready(ctx: Context) -> None:
    ctx.main.succeeded()
    print(f"helm install --wait took {ctx.main.seconds:.0f}s")
    apps = client.AppsV1Api(ctx.api)
    selector = f"{chart.INSTANCE}={RELEASE}"
    deployments = apps.list_namespaced_deployment(NAMESPACE, label_selector=selector, _request_timeout=10).items
    assert {d.metadata.name for d in deployments if d.metadata} == {"bf-api", "bf-bridge", "bf-writer", "bf-consumer"}
    for deployment in deployments:
        assert deployment.status is not None
        assert deployment.spec is not None
        assert deployment.status.ready_replicas == deployment.spec.replicas, deployment.metadata
    valkey = apps.read_namespaced_stateful_set("bf-valkey", NAMESPACE, _request_timeout=10)
    assert valkey.status is not None
    assert valkey.status.ready_replicas == 2  # 1 primary + 1 replica (values/dev.yaml)
    claims = client.CoreV1Api(ctx.api).list_namespaced_persistent_volume_claim(NAMESPACE, _request_timeout=10).items
    assert {(c.metadata.name, c.status.phase) for c in claims if c.metadata and c.status} == {
        ("data-bf-valkey-0", "Bound"),
        ("data-bf-valkey-1", "Bound"),
    }
    # No Strimzi object in external mode: the services use the cluster's broker.
    assert not strimzi_objects(manifest(ctx.info.kubeconfig, RELEASE, NAMESPACE))


REPLICATION = """\
import json, sys, time, valkey
primary, replica, password, token = sys.argv[1:5]
def connect(host):
    return valkey.Valkey(host=host, port=6379, password=password, socket_timeout=5)
connect(primary).set("replication-check", token, ex=60)
deadline = time.monotonic() + 10
copied = connect(replica).get("replication-check")
while copied != token.encode() and time.monotonic() < deadline:
    time.sleep(0.2)
    copied = connect(replica).get("replication-check")
print(json.dumps({"primary": connect(primary).info("replication"), "replica": connect(replica).info("replication"),
                  "copied": copied.decode() if copied else None}))
"""


def test_the_valkey_replica_follows_the_primary(ctx: Context) -> None:
    ctx.main.succeeded()
    core = client.CoreV1Api(ctx.api)
    ips: dict[str, str] = {}
    for pod in ("bf-valkey-0", "bf-valkey-1"):
        status = core.read_namespaced_pod(pod, NAMESPACE, _request_timeout=10).status
        assert status is not None
        assert status.pod_ip
        ips[pod] = status.pod_ip
    password = chart.valkey_env(ctx.api, NAMESPACE, RELEASE)["VALKEY_PASSWORD"]
    token = uuid.uuid4().hex
    done = ns_run([sys.executable, "-c", REPLICATION, ips["bf-valkey-0"], ips["bf-valkey-1"], password, token])
    seen = json.loads(done.stdout)
    assert seen["primary"]["role"] == "master"
    assert seen["primary"]["connected_slaves"] == 1
    assert seen["primary"]["slave0"]["ip"] == ips["bf-valkey-1"]
    assert seen["primary"]["slave0"]["state"] == "online"
    assert seen["replica"]["role"] == "slave"
    assert seen["replica"]["master_link_status"] == "up"
    assert seen["replica"]["master_host"].startswith("bf-valkey-0.bf-valkey-headless.")
    assert seen["copied"] == token


def test_helm_test_passes(ctx: Context) -> None:
    """The smoke pod's sale goes through the api Service, Kafka and the consumer and is counted in Valkey;
    the Valkey check sees the primary and its replica."""
    ctx.main.succeeded()
    out = ok(ctx.helm("test", RELEASE, "-n", NAMESPACE, "--logs", "--timeout", "3m"), "helm test")
    assert "bf-test-smoke" in out
    assert "Phase:          Succeeded" in out
    assert "api stored sale " in out
    assert " in Valkey" in out  # consumer counted sale <id> in Valkey
    assert "primary bf-valkey-primary: PING, SET/GET ok" in out
    assert "bf-valkey-1.bf-valkey-headless.black-friday.svc.cluster.local: role replica" in out


def test_a_sale_from_outside_the_pods_is_counted_once_and_read_as_make_report_reads_it(ctx: Context) -> None:
    ctx.main.succeeded()
    before = chart.report(ctx.api, NAMESPACE, RELEASE)
    product = f"k8s-{uuid.uuid4().hex[:8]}"
    sale = {"categoria": "Belleza", "producto_id": product, "precio": 120.5, "cantidad_vendida": 3}
    status, body = chart.post_sale(ctx.api, NAMESPACE, RELEASE, sale)
    assert status == 201, body
    assert body["status"] == "stored"

    def counted() -> bool:
        return bool(chart.report(ctx.api, NAMESPACE, RELEASE)["total_sales"] > before["total_sales"])

    wait(counted, 30, "the sale counted in Valkey", interval=0.5)
    # once: the consumer commits after applying; a second look (after its next poll) sees the same figures
    time.sleep(2)
    after = chart.report(ctx.api, NAMESPACE, RELEASE)
    assert after["total_sales"] == before["total_sales"] + 1
    belleza_before = before["categories"].get("Belleza", {"sales": 0, "units": 0})
    assert after["categories"]["Belleza"]["sales"] == belleza_before["sales"] + 1
    assert after["categories"]["Belleza"]["units"] == belleza_before["units"] + 3
    # python -m bftools.cluster report (make cluster-report) prints the same figures
    cli = subprocess.run(
        [sys.executable, "-m", "bftools.cluster", "report", "--release", RELEASE, "-n", NAMESPACE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=chart.helm_env(),
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == after


UPGRADE = (
    "--set", "writer.replicaCount=2",
    "--set", "api.autoscaling.maxReplicas=4",
    "--set", "api.autoscaling.targetCPUUtilizationPercentage=40",
    "--set", "bridge.autoscaling.maxReplicas=2",
)  # fmt: skip


def test_an_upgrade_changes_exactly_the_replicas_and_hpa_thresholds_and_a_rollback_restores_them(
    ctx: Context,
) -> None:
    ctx.main.succeeded()
    kubeconfig = ctx.info.kubeconfig
    objects = manifest(kubeconfig, RELEASE, NAMESPACE)
    before = ctx.objects.snapshot(objects, NAMESPACE)
    start = revision(kubeconfig, RELEASE, NAMESPACE)[0]
    args = chart.readme_install(RELEASE, NAMESPACE, ctx.info.values_file)
    ok(ctx.helm("upgrade", *args, *UPGRADE, "--wait", "--timeout", "3m"), "helm upgrade")
    after = ctx.objects.snapshot(manifest(kubeconfig, RELEASE, NAMESPACE), NAMESPACE)
    assert set(after) == set(before)
    changes = {f"{key} {path}": values for key, obj in before.items() for path, values in diff(obj, after[key]).items()}
    assert changes == {
        "Deployment/black-friday/bf-writer spec.replicas": (1, 2),
        "HorizontalPodAutoscaler/black-friday/bf-api spec.maxReplicas": (3, 4),
        "HorizontalPodAutoscaler/black-friday/bf-api spec.metrics[0].resource.target.averageUtilization": (30, 40),
        "HorizontalPodAutoscaler/black-friday/bf-bridge spec.maxReplicas": (3, 2),
    }

    ok(ctx.helm("rollback", RELEASE, str(start), "-n", NAMESPACE, "--wait", "--timeout", "3m"), "helm rollback")
    assert ctx.objects.snapshot(objects, NAMESPACE) == before
    assert revision(kubeconfig, RELEASE, NAMESPACE) == (start + 2, "deployed")


def test_a_volume_size_change_fails_at_render_with_the_way_out_and_leaves_the_release(ctx: Context) -> None:
    ctx.main.succeeded()
    kubeconfig = ctx.info.kubeconfig
    objects = manifest(kubeconfig, RELEASE, NAMESPACE)
    before = ctx.objects.snapshot(objects, NAMESPACE)
    at = revision(kubeconfig, RELEASE, NAMESPACE)
    args = chart.readme_install(RELEASE, NAMESPACE, ctx.info.values_file)
    # the upgrade from values/dev.yaml to values/prod.yaml (Valkey's volumes 1Gi -> 10Gi)
    done = ctx.helm("upgrade", *args, "-f", str(chart.VALUES / "prod.yaml"))
    assert done.returncode != 0
    # the chart's own message, not the API server's "Forbidden: updates to statefulset spec"
    assert "valkey.persistence.size: the Valkey volumes were created with 1Gi" in done.stderr
    assert "(you asked for 10Gi)" in done.stderr
    assert "Keep --set valkey.persistence.size=1Gi" in done.stderr
    assert "kubectl delete statefulset bf-valkey --cascade=orphan" in done.stderr
    assert "Forbidden" not in done.stderr
    same_way = ctx.helm("upgrade", *args, "--set", "valkey.persistence.size=1024Mi", "--dry-run=server")
    ok(same_way, "helm upgrade --dry-run=server with 1024Mi (the same size)")
    assert revision(kubeconfig, RELEASE, NAMESPACE) == at
    assert ctx.objects.snapshot(objects, NAMESPACE) == before


def test_another_release_in_another_namespace_does_not_collide(ctx: Context) -> None:
    """values/prod.yaml's release, also named bf, was installed in another namespace while this one was
    (both installs succeeded; helm test passed here after it was uninstalled): the chart makes no cluster-wide
    object, every object of this release sits in its namespace."""
    ctx.main.succeeded()
    for obj in manifest(ctx.info.kubeconfig, RELEASE, NAMESPACE):
        assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]
        resource = ctx.objects.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        assert resource.namespaced, obj["kind"]


def test_the_hpas_read_cpu_from_the_metrics_api(ctx: Context) -> None:
    """Every HPA gets a CPU figure soon after the install (the api's and the bridge's read <unknown> for
    over a minute when their pods became ready late)."""
    ctx.main.succeeded()
    autoscaling = client.AutoscalingV2Api(ctx.api)

    def all_read() -> bool:
        hpas = autoscaling.list_namespaced_horizontal_pod_autoscaler(NAMESPACE, _request_timeout=10).items
        assert {h.metadata.name for h in hpas if h.metadata} == {"bf-api", "bf-bridge", "bf-consumer"}
        return all(
            h.status is not None
            and h.status.current_metrics
            and h.status.current_metrics[0].resource is not None
            and h.status.current_metrics[0].resource.current.average_utilization is not None
            for h in hpas
        )

    wait(all_read, 120, "a CPU figure on every HPA", interval=2)


def test_uninstall_leaves_only_the_secret_and_the_valkey_claims_and_a_reinstall_finds_the_data(ctx: Context) -> None:
    """What the README says stays: the Valkey password's Secret (helm.sh/resource-policy: keep) and the
    StatefulSet's claims (data-bf-valkey-N); the README's install, run again, finds them: the same password,
    and the figures counted before."""
    ctx.main.succeeded()
    kubeconfig = ctx.info.kubeconfig
    objects = manifest(kubeconfig, RELEASE, NAMESPACE)
    password = chart.valkey_env(ctx.api, NAMESPACE, RELEASE)["VALKEY_PASSWORD"]
    if chart.report(ctx.api, NAMESPACE, RELEASE)["total_sales"] == 0:  # this test run alone
        sale = {"categoria": "Hogar", "producto_id": "kept", "precio": 10.0, "cantidad_vendida": 1}
        assert chart.post_sale(ctx.api, NAMESPACE, RELEASE, sale)[0] == 201
        wait(lambda: chart.report(ctx.api, NAMESPACE, RELEASE)["total_sales"] == 1, 30, "the sale counted")
    figures = chart.report(ctx.api, NAMESPACE, RELEASE)
    out = ctx.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "3m")
    ok(out, "helm uninstall")
    assert "[Secret] bf-valkey" in out.stdout + out.stderr
    left = [f"{o['kind']}/{o['metadata']['name']}" for o in objects if ctx.objects.get(o, NAMESPACE) is not None]
    assert left == ["Secret/bf-valkey"]
    core = client.CoreV1Api(ctx.api)
    claims = {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(NAMESPACE).items if c.metadata}
    assert claims == {"data-bf-valkey-0", "data-bf-valkey-1"}
    selector = f"{chart.INSTANCE}={RELEASE}"
    labelled = {
        f"{kind}/{item.metadata.name}"
        for kind, items in (
            ("Secret", core.list_namespaced_secret(NAMESPACE, label_selector=selector).items),
            (
                "PersistentVolumeClaim",
                core.list_namespaced_persistent_volume_claim(NAMESPACE, label_selector=selector).items,
            ),
        )
        for item in items
        if item.metadata
    }
    # what the README's clean-up command (kubectl delete secret,pvc -l app.kubernetes.io/instance=bf) removes
    assert labelled == {
        "Secret/bf-valkey",
        "PersistentVolumeClaim/data-bf-valkey-0",
        "PersistentVolumeClaim/data-bf-valkey-1",
    }
    kept = core.read_namespaced_secret("bf-valkey", NAMESPACE, _request_timeout=10)
    assert base64.b64decode((kept.data or {})["password"]).decode() == password

    again = ctx.helm("install", *chart.readme_install(RELEASE, NAMESPACE, ctx.info.values_file), "--wait")
    ok(again, "the README's helm install, again")
    assert chart.valkey_env(ctx.api, NAMESPACE, RELEASE)["VALKEY_PASSWORD"] == password
    assert chart.report(ctx.api, NAMESPACE, RELEASE) == figures
