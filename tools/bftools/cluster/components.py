"""The cluster's processes: what each one runs, where (inside the namespace or on the host), and the
string of its command line that proves a recorded pid is still that process (always a path under the
clone's state directory, so another clone's cluster or a recycled pid never matches)."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bftools.cluster.config import (
    APISERVER_PORT,
    CLUSTER_DOMAIN,
    KUBE_ROUTER_HEALTH_PORT,
    NODE_IP,
    NODE_NAME,
    POD_CIDR,
    SERVICE_CIDR,
    Layout,
    MissingPrerequisite,
)
from bftools.cluster.shell import in_netns

#: Start order; teardown goes the other way round (with the pods' processes killed before containerd).
ORDER = (
    "registry",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "kubelet",
    "kube-proxy",
    "kube-router",
    "provisioner",
    "kafka",
)
K8S_BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kube-router",
)


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]
    marker: str
    in_netns: bool = True

    def command(self) -> list[str]:
        return in_netns(self.argv) if self.in_netns else self.argv


def binary(layout: Layout, name: str) -> str:
    path = layout.binary(name)
    if not path.is_file():
        raise MissingPrerequisite(f"{name} binary missing in {layout.bin}: run scripts/setup k8s")
    return str(path)


def registry_binary() -> str:
    found = shutil.which("docker-registry") or shutil.which("registry")
    if found is None:
        raise MissingPrerequisite("docker-registry is not installed: run scripts/setup registry")
    return found


def registry(layout: Layout) -> Component:
    config = str(layout.etc / "registry.yml")
    return Component("registry", [registry_binary(), "serve", config], config)


def etcd(layout: Layout) -> Component:
    data = str(layout.run / "etcd")
    return Component(
        "etcd",
        [
            binary(layout, "etcd"),
            "--name=bf",
            f"--data-dir={data}",
            "--listen-client-urls=http://127.0.0.1:2379",
            "--advertise-client-urls=http://127.0.0.1:2379",
            "--listen-peer-urls=http://127.0.0.1:2380",
            "--initial-advertise-peer-urls=http://127.0.0.1:2380",
            "--initial-cluster=bf=http://127.0.0.1:2380",
            "--initial-cluster-state=new",
            # a throwaway cluster on a shared disk: durability is not worth the fsync latency
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        f"--data-dir={data}",
    )


def kube_apiserver(layout: Layout) -> Component:
    pki = layout.pki
    cert = f"--tls-cert-file={pki / 'apiserver.crt'}"
    return Component(
        "kube-apiserver",
        [
            binary(layout, "kube-apiserver"),
            "--etcd-servers=http://127.0.0.1:2379",
            f"--bind-address={NODE_IP}",
            f"--advertise-address={NODE_IP}",
            f"--secure-port={APISERVER_PORT}",
            cert,
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            # the aggregation layer (metrics-server's metrics.k8s.io)
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            # reach aggregated APIs at their pods' addresses, not through a Service IP
            "--enable-aggregator-routing=true",
            "--profiling=false",
            "--v=0",
        ],
        cert,
    )


def kube_controller_manager(layout: Layout) -> Component:
    kubeconfig = f"--kubeconfig={layout.etc / 'controller-manager.kubeconfig'}"
    pki = layout.pki
    return Component(
        "kube-controller-manager",
        [
            binary(layout, "kube-controller-manager"),
            kubeconfig,
            f"--authentication-kubeconfig={layout.etc / 'controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={layout.etc / 'controller-manager.kubeconfig'}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--cluster-cidr={POD_CIDR}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--flex-volume-plugin-dir={layout.run / 'kubelet-plugins'}",
            # HPAs react within a test's patience (defaults: 15s sync, 5 min downscale window)
            "--horizontal-pod-autoscaler-sync-period=10s",
            "--profiling=false",
        ],
        kubeconfig,
    )


def kube_scheduler(layout: Layout) -> Component:
    kubeconfig = f"--kubeconfig={layout.etc / 'scheduler.kubeconfig'}"
    return Component(
        "kube-scheduler",
        [
            binary(layout, "kube-scheduler"),
            kubeconfig,
            f"--authentication-kubeconfig={layout.etc / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={layout.etc / 'scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            "--profiling=false",
            # A pod set aside as unschedulable is retried after 10 s instead of 5 min when the event that
            # should bring it back is missed: twice a StatefulSet's pod whose volume was bound moments later
            # waited the five minutes, and helm's --wait ran out (docs/local-cluster.md).
            "--pod-max-in-unschedulable-pods-duration=10s",
        ],
        kubeconfig,
    )


def containerd(layout: Layout) -> Component:
    config = str(layout.etc / "containerd.toml")
    found = shutil.which("containerd") or "/usr/bin/containerd"
    if not Path(found).is_file():
        raise MissingPrerequisite("containerd is not installed: run scripts/setup k8s")
    return Component("containerd", [found, "--config", config, "--log-level", "warn"], config)


def kubelet(layout: Layout) -> Component:
    config = f"--config={layout.etc / 'kubelet.yaml'}"
    return Component(
        "kubelet",
        [
            binary(layout, "kubelet"),
            config,
            f"--kubeconfig={layout.etc / 'kubelet.kubeconfig'}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={NODE_IP}",
            f"--root-dir={layout.run / 'kubelet'}",
            "--v=0",
        ],
        config,
    )


def kube_proxy(layout: Layout) -> Component:
    config = f"--config={layout.etc / 'kube-proxy.yaml'}"
    return Component("kube-proxy", [binary(layout, "kube-proxy"), config], config)


def kube_router(layout: Layout) -> Component:
    """kube-router's firewall only (no routing, no service proxy: the bridge CNI and kube-proxy do those):
    it enforces the NetworkPolicies with iptables and ipset in the node's network namespace. Its identity
    (system:kube-router) may read pods, namespaces, nodes and NetworkPolicies (addons.kube_router_rbac)."""
    kubeconfig = f"--kubeconfig={layout.etc / 'kube-router.kubeconfig'}"
    return Component(
        "kube-router",
        [
            binary(layout, "kube-router"),
            kubeconfig,
            "--run-firewall=true",
            "--run-router=false",
            "--run-service-proxy=false",
            f"--hostname-override={NODE_NAME}",
            f"--health-port={KUBE_ROUTER_HEALTH_PORT}",
            "--metrics-port=0",
            # changes are applied as they come; the full resync only mends what something else removed
            "--iptables-sync-period=1m",
            "--v=1",
        ],
        kubeconfig,
    )


def provisioner(layout: Layout) -> Component:
    """The hostPath provisioner: a Python process on the host (it only talks to the apiserver)."""
    marker = f"--state={layout.state}"
    return Component(
        "provisioner", [sys.executable, "-m", "bftools.cluster.provisioner", marker], marker, in_netns=False
    )
