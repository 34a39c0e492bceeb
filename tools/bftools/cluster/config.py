"""Where the local cluster lives: its names, addresses, versions and directories.

Everything that talks to pods lives in one network namespace (NETNS). The host reaches it through a veth
pair: HOST_IP on the host side, NODE_IP inside. The control plane, the node, the registry and the Kafka
broker all listen on NODE_IP (or on the namespace's own loopback), so nothing binds on the host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Network
from pathlib import Path
from typing import Final

from bftools.runtime.paths import ROOT

BUILD: Final = ROOT / "scripts" / "k8s-build"

NETNS: Final = "bf-k8s"
HOST_VETH: Final = "bf-k8s-h"
NS_VETH: Final = "bf-k8s-n"
VETH_NET: Final = IPv4Network("10.250.0.0/30")
HOST_IP: Final = "10.250.0.1"
NODE_IP: Final = "10.250.0.2"
POD_CIDR: Final = IPv4Network("10.244.0.0/16")
NODE_POD_CIDR: Final = IPv4Network("10.244.0.0/24")
SERVICE_CIDR: Final = IPv4Network("10.96.0.0/16")
KUBERNETES_SERVICE_IP: Final = "10.96.0.1"
DNS_SERVICE_IP: Final = "10.96.0.10"
BRIDGE: Final = "cni0"
#: The CNI network's name (the CNI result cache names its files after it).
CNI_NETWORK: Final = "bf-k8s"
NODE_NAME: Final = "bf-node"
CLUSTER_DOMAIN: Final = "cluster.local"

APISERVER_PORT: Final = 6443
REGISTRY_PORT: Final = 5000
KAFKA_PORT: Final = 9092
KAFKA_CONTROLLER_PORT: Final = 9093
KAFKA_TOPIC: Final = "sales-topic"
#: Where the consumer puts records that are not sales (the chart expects it to exist with an external Kafka).
KAFKA_DEAD_LETTER_TOPIC: Final = "sales-topic-dlq"
KAFKA_PARTITIONS: Final = 3
#: kube-router's /healthz on the node's address.
KUBE_ROUTER_HEALTH_PORT: Final = 20244
#: The chart's default consumer group (global.kafka.consumerGroup): the consumer's ACL is on it.
KAFKA_GROUP: Final = "black-friday-group"

#: The StorageClass of the harness's provisioner (the cluster's default).
STORAGE_CLASS: Final = "bf-local"
PROVISIONER_NAME: Final = "black-friday.local/hostpath"
#: The kubelet's cgroup parent: everything the pods run in sits under /sys/fs/cgroup/<controller>/bf-k8s.
CGROUP_ROOT: Final = "bf-k8s"
#: Marks the host's iptables rules this harness adds (so teardown deletes exactly those).
RULE_COMMENT: Final = "black-friday local cluster"
#: Who owns the namespace: the state directory of the clone that created it.
OWNER_FILE: Final = Path("/run/bf-k8s.owner")
#: Held by `up` and `down` (any clone's) while they change the host.
LOCK_FILE: Final = Path("/run/bf-k8s.lock")
NETNS_PATH: Final = Path("/var/run/netns") / NETNS
#: What `ip netns exec` mounts over /etc/resolv.conf inside the namespace: the cluster's DNS, so that a
#: program run there finds Services and pods by name, as a pod does (bf-valkey-sentinel.black-friday).
NETNS_RESOLV_CONF: Final = Path("/etc/netns") / NETNS / "resolv.conf"


class ClusterError(RuntimeError):
    """A one-line reason the cluster cannot do what was asked."""


class MissingPrerequisite(ClusterError):
    """Something to install first; the message names it and the command that installs it."""


def read_versions(path: Path = BUILD / "versions.env") -> dict[str, str]:
    """The pinned versions (KEY=VALUE lines, shared with scripts/setup)."""
    versions: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            versions[key.strip()] = value.strip()
    return versions


VERSIONS: Final = read_versions()
K8S_VERSION: Final = VERSIONS["K8S_VERSION"]


def cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "black-friday"


@dataclass(frozen=True)
class Layout:
    """The directories of one cluster: its state (in the clone) and the binaries (in the user's cache)."""

    state: Path
    bin: Path
    cache: Path

    @classmethod
    def default(cls) -> Layout:
        state = Path(os.environ.get("BF_CLUSTER_DIR") or ROOT / ".stack" / "cluster")
        cache = cache_home()
        return cls(state=state.resolve(), bin=cache / "k8s" / K8S_VERSION / "bin", cache=cache)

    @property
    def state_file(self) -> Path:
        return self.state / "state.json"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def etc(self) -> Path:
        return self.state / "etc"

    @property
    def run(self) -> Path:
        """Data that dies with the cluster: etcd, containerd, kubelet, CNI leases, volumes, Kafka."""
        return self.state / "run"

    @property
    def registry(self) -> Path:
        """The registry's storage: a cache in the user's cache directory, kept across `down` and shared by
        the clones of this machine (one cluster runs at a time), so a later `up` builds and pushes only
        what changed (the project's image is tagged by the hash of its sources)."""
        return self.cache / "k8s" / "registry"

    @property
    def volumes(self) -> Path:
        return self.run / "volumes"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def values_file(self) -> Path:
        return self.state / "values-local.yaml"

    @cached_property
    def containerd_socket(self) -> Path:
        return self.run / "containerd" / "containerd.sock"

    def binary(self, name: str) -> Path:
        return self.bin / name


REGISTRY: Final = f"{NODE_IP}:{REGISTRY_PORT}"
APISERVER_URL: Final = f"https://{NODE_IP}:{APISERVER_PORT}"
KAFKA_BOOTSTRAP: Final = f"{NODE_IP}:{KAFKA_PORT}"
