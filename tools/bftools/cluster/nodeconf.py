"""The node's configuration files: containerd (CRI), the CNI network, the kubelet, kube-proxy, the registry.

The traps these settings avoid (see ../shared/reference/local-kubernetes.md): root here lacks
CAP_SYS_RESOURCE, so runc must not raise oom_score_adj (restrict_oom_score_adj); the machines have cgroup
v1 hierarchies, so the kubelet needs failCgroupV1: false and both sides the cgroupfs driver.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from bftools.cluster.config import (
    BRIDGE,
    CGROUP_ROOT,
    CLUSTER_DOMAIN,
    CNI_NETWORK,
    DNS_SERVICE_IP,
    NODE_IP,
    NODE_NAME,
    NODE_POD_CIDR,
    POD_CIDR,
    REGISTRY,
    REGISTRY_PORT,
    Layout,
)

CNI_BIN = Path("/usr/lib/cni")
RUNC = "/usr/sbin/runc"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def containerd(layout: Layout, sandbox_image: str) -> Path:
    root = layout.run / "containerd"
    text = f"""\
# containerd for the black-friday local cluster (written by python -m bftools.cluster up)
version = 2
root = "{root / "root"}"
state = "{root / "state"}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{layout.containerd_socket}"

[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root / "opt"}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox_image}"
  # root here lacks CAP_SYS_RESOURCE: without this runc fails with "can't get final child's PID from pipe"
  restrict_oom_score_adj = true
  # the pods' network namespaces are mounted under the state directory, so teardown finds every one
  netns_mounts_under_state_dir = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        Root = "{root / "runc"}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{layout.etc / "cni"}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{layout.etc / "certs.d"}"
"""
    # The in-namespace registry speaks plain HTTP.
    _write(
        layout.etc / "certs.d" / REGISTRY / "hosts.toml",
        f'server = "http://{REGISTRY}"\n\n[host."http://{REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n',
    )
    return _write(layout.etc / "containerd.toml", text)


def cni(layout: Layout) -> Path:
    """A bridge (cni0, the pods' gateway in the namespace) with host-local addresses from the node's pod CIDR."""
    config = {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": str(NODE_POD_CIDR), "gateway": str(NODE_POD_CIDR.network_address + 1)}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.run / "cni-ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return _write(layout.etc / "cni" / "10-bf-k8s.conflist", json.dumps(config, indent=2) + "\n")


def kubelet(layout: Layout) -> Path:
    pki = layout.pki
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # cgroup v1 hierarchies on these machines: 1.34 still runs on them when told to
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{CGROUP_ROOT}",
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "address": NODE_IP,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet-serving.key"),
        "clusterDNS": [DNS_SERVICE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        # no upstream resolver: nothing in the namespace may reach the internet
        "resolvConf": str(_write(layout.etc / "resolv.conf", "# no upstream DNS inside the cluster's namespace\n")),
        "podLogsDir": str(layout.run / "pod-logs"),
        "failSwapOn": False,
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "podCIDR": str(NODE_POD_CIDR),
        "maxPods": 110,
        # the disk is shared with the rest of the machine: evict only when it is really full
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
        "imageGCHighThresholdPercent": 99,
        "imageGCLowThresholdPercent": 98,
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "20s",
        "shutdownGracePeriod": "0s",
        "volumePluginDir": str(layout.run / "kubelet-plugins"),
        "logging": {"format": "text"},
    }
    return _write(layout.etc / "kubelet.yaml", yaml.safe_dump(config, sort_keys=False))


def kube_proxy(layout: Layout) -> Path:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(layout.etc / "kube-proxy.kubeconfig")},
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "clusterCIDR": str(POD_CIDR),
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "nodePortAddresses": [f"{NODE_IP}/32", "127.0.0.0/8"],
        # the namespace's conntrack sysctls are not kube-proxy's to change here: leave them alone
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"masqueradeAll": False, "syncPeriod": "10s", "minSyncPeriod": "1s"},
    }
    return _write(layout.etc / "kube-proxy.yaml", yaml.safe_dump(config, sort_keys=False))


def registry(layout: Layout) -> Path:
    text = (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {layout.registry}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {NODE_IP}:{REGISTRY_PORT}\n"
    )
    layout.registry.mkdir(parents=True, exist_ok=True)
    return _write(layout.etc / "registry.yml", text)
