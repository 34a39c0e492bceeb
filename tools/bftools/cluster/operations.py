"""What operators do to a running release on the local cluster, each call returning once it is done: a
rollout restarted and finished, a pod deleted and replaced, the Valkey primary deleted and a replica
promoted, the Kafka broker killed and started again, an image tagged anew for an upgrade.

Used by `make cluster-chaos` (bftools.cluster.chaos), from inside the cluster's network namespace.
"""

from __future__ import annotations

import datetime
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import valkey
from kubernetes import client

from bftools.cluster import broker, kube
from bftools.cluster.cluster import Cluster
from bftools.cluster.config import REGISTRY, ClusterError
from bftools.cluster.images import MANIFEST_TYPES
from bftools.runtime.process import wait_for
from blackfriday.valkeyconn import Login, connect_as

#: How long a rollout or a replacement may take before the row fails.
SETTLED: float = 240.0


@dataclass(frozen=True)
class Release:
    api: client.ApiClient
    namespace: str
    name: str

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def deployment(self, component: str) -> str:
        return f"{self.name}-{component}"

    def selector(self, component: str) -> str:
        return f"app.kubernetes.io/instance={self.name},app.kubernetes.io/name={component}"

    def ready_pods(self, component: str) -> list[str]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector(component), _request_timeout=10
        )
        return sorted(
            str(p.metadata.name)
            for p in pods.items
            if p.metadata
            and p.metadata.deletion_timestamp is None
            and p.status
            and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
        )

    def rolled_out(self, component: str) -> bool:
        """Every replica updated, available, and no old pod left (what `kubectl rollout status` waits for)."""
        deployment = self.apps.read_namespaced_deployment(
            self.deployment(component), self.namespace, _request_timeout=10
        )
        spec, status = deployment.spec, deployment.status
        want = spec.replicas if spec and spec.replicas is not None else 1
        return bool(
            status
            and deployment.metadata
            and (status.observed_generation or 0) >= (deployment.metadata.generation or 0)
            and (status.updated_replicas or 0) == want
            and (status.available_replicas or 0) == want
            and (status.replicas or 0) == want
        )


def rollout_restart(release: Release, component: str) -> None:
    """`kubectl rollout restart deployment/<release>-<component>`, until the rollout is done."""
    stamp = datetime.datetime.now(datetime.UTC).isoformat()
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    release.apps.patch_namespaced_deployment(
        release.deployment(component), release.namespace, patch, _request_timeout=10
    )
    wait_rolled_out(release, component)


def wait_rolled_out(release: Release, *components: str) -> None:
    time.sleep(1.0)  # the controller's first reaction: observedGeneration moves only once it has seen the change
    kube.wait_until(
        lambda: all(release.rolled_out(c) for c in components), SETTLED, f"the rollout of {', '.join(components)}"
    )


def delete_pod(release: Release, component: str) -> str:
    """Delete one ready pod of the component (a graceful deletion, as a node drain does) and wait until a new
    one replaced it; the pod deleted."""
    before = release.ready_pods(component)
    if not before:
        raise ClusterError(f"no ready pod of {component} to delete")
    victim = before[0]
    release.core.delete_namespaced_pod(victim, release.namespace, _request_timeout=10)
    want = len(before)

    def replaced() -> bool:
        pods = release.ready_pods(component)
        return victim not in pods and len(pods) >= want

    kube.wait_until(replaced, SETTLED, f"a new {component} pod in place of {victim}")
    return victim


class Sentinels:
    """The release's Valkey, found through its Sentinels (by the cluster's DNS: run inside the namespace).
    ``login``: the read-only "reader" is all it needs (the Sentinels tell it where the primary is, and the
    chaos matrix only reads the figures)."""

    def __init__(self, release: Release, login: Login, primary_name: str = "bf") -> None:
        self.release = release
        self.login = login
        self.primary_name = primary_name
        self.service = f"{release.name}-valkey-sentinel.{release.namespace}"

    @property
    def addr(self) -> str:
        return f"sentinel://{self.service}:26379/{self.primary_name}"

    def primary_pod(self) -> str | None:
        """The pod the Sentinels name primary (None: no answer now)."""
        try:
            with valkey.Valkey(
                host=self.service,
                port=26379,
                username=self.login.user or None,
                password=self.login.password,
                socket_timeout=3,
            ) as sentinel:
                answer = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.primary_name)
        except (valkey.ValkeyError, OSError):
            return None
        if not answer:
            return None
        host = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
        return host.split(".", 1)[0]

    def client(self) -> valkey.Valkey:
        return connect_as(self.addr, self.login, timeout=5)


def delete_valkey_primary(release: Release, sentinels: Sentinels) -> str:
    """Delete the pod the Sentinels name primary; wait until they name another, and the deleted pod is back
    (as a replica of it). The pod deleted."""
    old = sentinels.primary_pod()
    if old is None:
        raise ClusterError("the Sentinels name no primary")
    release.core.delete_namespaced_pod(old, release.namespace, _request_timeout=10)
    kube.wait_until(
        lambda: sentinels.primary_pod() not in (None, old), SETTLED, f"the Sentinels to promote a replica of {old}"
    )
    kube.wait_until(lambda: old in release.ready_pods("valkey"), SETTLED, f"{old} to come back")
    return old


def kill_broker(cluster: Cluster, hold: float) -> None:
    """SIGKILL of the cluster's Kafka broker; ``hold`` seconds later it is started again, on its data."""
    proc = next((p for p in cluster.procs() if p.name == "kafka"), None)
    if proc is None or not proc.alive():
        raise ClusterError("the cluster's Kafka broker is not running")
    proc.signal(signal.SIGKILL)
    wait_for(lambda: not proc.alive(), 10)
    time.sleep(hold)  # the outage itself: nothing to poll for
    offset = proc.log.stat().st_size  # the restarted broker appends to the same log: its own lines come after
    cluster.restart(broker.component(cluster.layout), lambda started: broker.ready(started.log, offset))


def tag_image(reference: str, tag: str) -> str:
    """The same image under another tag in the cluster's registry (an upgrade to a new tag); the new reference."""
    host, _, rest = reference.partition("/")
    repository, _, old = rest.rpartition(":")
    if host != REGISTRY:
        raise ClusterError(f"{reference} is not in the cluster's registry {REGISTRY}")
    manifests = f"http://{REGISTRY}/v2/{repository}/manifests"
    got = httpx.get(f"{manifests}/{old}", headers={"Accept": MANIFEST_TYPES}, timeout=30)
    got.raise_for_status()
    put = httpx.put(
        f"{manifests}/{tag}", content=got.content, headers={"Content-Type": got.headers["content-type"]}, timeout=30
    )
    put.raise_for_status()
    return f"{REGISTRY}/{repository}:{tag}"


def counted(sentinels: Sentinels) -> Callable[[], int | None]:
    """A reader of the sales counted (None while Valkey cannot answer), on one client that finds the primary
    again after a failover."""
    holder: list[valkey.Valkey] = []

    def read() -> int | None:
        try:
            if not holder:
                holder.append(sentinels.client())
            value = holder[0].get("bf:sales:total")
        except (valkey.ValkeyError, OSError):
            holder.clear()
            return None
        return int(value or 0)  # type: ignore[arg-type]

    return read
