"""What the tests of the chart on the local cluster share: the releases' names, helm run against the cluster
(in the foreground or in the background), and reading the objects back from the API server to compare them
with what the chart rendered. The fixtures that install the releases are in conftest.py."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError
from kubernetes.utils import parse_quantity

from bftools.cluster import Cluster, ClusterInfo
from bftools.cluster import release as chart
from bftools.cluster.kube import apply
from bftools.runtime.paths import keda_config, monitoring_crds
from tests.conftest import SHARED

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
#: The releases installed only to prove admission (their pods kept from starting): release, namespace, values.
#: values/prod.yaml with monitoring on (the Prometheus Operator's kinds, Kafka's metrics), and values/dev.yaml.
MONITORING: Final = (
    *("--set", "monitoring.podMonitors.enabled=true", "--set", "monitoring.prometheusRule.enabled=true"),
    *("--set", "kafka.metrics.enabled=true"),
)
ADMITTED = (
    (RELEASE, PROD_NAMESPACE, "prod.yaml", MONITORING),
    (STRIMZI_RELEASE, STRIMZI_NAMESPACE, "dev.yaml", ()),
)


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


def installed(kubeconfig: Path, release: str, namespace: str) -> bool:
    """Whether helm has the release (in whatever state)."""
    return chart.helm(kubeconfig, "status", release, "-n", namespace).returncode == 0


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


def room_made(core: client.CoreV1Api, timeout: float = 240) -> None:
    """Until no namespace is terminating. Tests delete their releases' namespaces without waiting for the pods'
    graceful ends (a writer serves 35 s more); whoever installs next waits here for the room they hold on the
    node, instead of every test waiting at its end."""

    def gone() -> bool:
        spaces = core.list_namespace(_request_timeout=10).items
        return not any(n.status is not None and n.status.phase == "Terminating" for n in spaces)

    wait(gone, timeout, "the namespaces deleted before this install to be gone")


def delete_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.delete_namespace(name, _request_timeout=10)
    except ApiException as exc:
        if exc.status != 404:
            raise


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


def strimzi_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["apiVersion"].startswith("kafka.strimzi.io/")]


@dataclass
class Releases:
    """The session's releases of the chart on the cluster, and what the session added for them."""

    info: ClusterInfo
    api: client.ApiClient
    objects: Objects
    #: The recorded processes of the cluster the releases went on: another cluster (stopped, or started
    #: afresh since) has none of them.
    cluster_pids: list[int]
    #: The README's install, started in the background as the session's releases are set up.
    first_install: Install | None = None
    created_kafka_namespace: bool = False
    created_crds: list[str] = field(default_factory=list)
    #: helm's stderr of the latest install of each admitted release, by namespace.
    notes: dict[str, str] = field(default_factory=dict)

    def helm(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return chart.helm(self.info.kubeconfig, *args, timeout=timeout)

    def on(self, cluster: Cluster) -> bool:
        """Whether the cluster they were installed on still runs."""
        return [p.pid for p in cluster.procs()] == self.cluster_pids and cluster.running()

    def remove(self) -> None:
        """Uninstall every release, delete the namespaces, and what the session created for Strimzi mode."""
        if self.first_install is not None:
            self.first_install.done()
        for release, namespace in ((RELEASE, NAMESPACE), *((r, n) for r, n, _, _ in ADMITTED)):
            self.helm("uninstall", release, "-n", namespace, "--wait", "--ignore-not-found")
        core = client.CoreV1Api(self.api)
        for namespace in (NAMESPACE, PROD_NAMESPACE, STRIMZI_NAMESPACE):
            delete_namespace(core, namespace)
        if self.created_kafka_namespace:
            delete_namespace(core, KAFKA_NAMESPACE)
        for crd in self.created_crds:
            client.ApiextensionsV1Api(self.api).delete_custom_resource_definition(crd, _request_timeout=30)


#: ../shared/crds/strimzi-1.2.0 has no KafkaUser CRD (044-Crd-kafkauser.yaml): until it has, this stand-in
#: registers the kind (any spec) so that the chart's KafkaUsers are admitted; their content is checked against
#: Strimzi's schema by tests/chart/test_kafka_users.py. Not Strimzi's CRD: only its names.
KAFKA_USER_STAND_IN: Final = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "kafkausers.kafka.strimzi.io"},
    "spec": {
        "group": "kafka.strimzi.io",
        "names": {"kind": "KafkaUser", "listKind": "KafkaUserList", "singular": "kafkauser", "plural": "kafkausers"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                    }
                },
            }
        ],
    },
}


def install_strimzi_crds(releases: Releases, tmp: Path) -> None:
    """The Strimzi 1.2 CRDs from ../shared on the cluster (its operator cannot run here; the KafkaUser stand-in
    while ../shared lacks that CRD), Established, and the namespace the values put Kafka in."""
    files = sorted(CRDS.glob("*.yaml"))
    if not any("kafkauser" in f.name.lower() for f in files):
        stand_in = tmp / "kafkauser-stand-in.yaml"
        stand_in.write_text(yaml.safe_dump(KAFKA_USER_STAND_IN))
        files.append(stand_in)
    install_crds(releases, files, 4, "the Strimzi CRDs")
    if not chart.namespace_exists(client.CoreV1Api(releases.api), KAFKA_NAMESPACE):
        releases.created_kafka_namespace = True
        apply(releases.api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KAFKA_NAMESPACE}})


def install_monitoring_crds(releases: Releases) -> None:
    """The Prometheus Operator's PodMonitor and PrometheusRule CRDs (scripts/setup monitoring), Established."""
    install_crds(releases, sorted(monitoring_crds().glob("*.yaml")), 2, "the Prometheus Operator's CRDs")


def install_keda_crds(releases: Releases) -> None:
    """KEDA's ScaledObject and TriggerAuthentication CRDs (scripts/setup monitoring), Established: values/prod.yaml
    scales the consumer on lag."""
    bases = keda_config() / "crd" / "bases"
    files = [bases / "keda.sh_scaledobjects.yaml", bases / "keda.sh_triggerauthentications.yaml"]
    install_crds(releases, files, 2, "KEDA's CRDs")


def install_crds(releases: Releases, files: list[Path], count: int, what: str) -> None:
    """The CRDs of ``files`` applied (the ones the cluster did not have are removed with the session) and
    Established."""
    ext = client.ApiextensionsV1Api(releases.api)
    names = []
    for path in files:
        for crd in yaml.safe_load_all(path.read_text()):
            if crd and crd.get("kind") == "CustomResourceDefinition":
                names.append(crd["metadata"]["name"])
                try:
                    ext.read_custom_resource_definition(crd["metadata"]["name"], _request_timeout=10)
                except ApiException as exc:
                    if exc.status != 404:
                        raise
                    releases.created_crds.append(crd["metadata"]["name"])
                apply(releases.api, crd, timeout=60)
    assert len(names) == count, names

    def established() -> bool:
        for name in names:
            crd = ext.read_custom_resource_definition(name, _request_timeout=10)
            conditions = crd.status.conditions if crd.status and crd.status.conditions else []
            if not any(c.type == "Established" and c.status == "True" for c in conditions):
                return False
        return True

    wait(established, 60, f"{what} Established")
