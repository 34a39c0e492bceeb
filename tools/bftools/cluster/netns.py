"""The cluster's network namespace, its veth pair to the host, and the host's safety routes and rules.

The rule: pods and everything that talks to them stay inside the namespace. The namespace has no default
route (nothing in it reaches the internet); the host gets blackhole routes for the pod and service
networks while the cluster runs (a stray packet from the host dies there instead of taking the default
route) and refuses to forward anything from or to the veth.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network
from pathlib import Path

from bftools.cluster.config import (
    CLUSTER_DOMAIN,
    DNS_SERVICE_IP,
    HOST_IP,
    HOST_VETH,
    NETNS,
    NETNS_PATH,
    NETNS_RESOLV_CONF,
    NODE_IP,
    NS_VETH,
    OWNER_FILE,
    POD_CIDR,
    RULE_COMMENT,
    SERVICE_CIDR,
    VETH_NET,
    ClusterError,
)
from bftools.cluster.shell import in_netns, run

#: The host's networks this harness claims, and what each is for (used in conflict messages).
CLAIMED = {VETH_NET: "veth", POD_CIDR: "pods", SERVICE_CIDR: "services"}
FORWARD_RULES = (["-i", HOST_VETH], ["-o", HOST_VETH])
BLACKHOLES = (POD_CIDR, SERVICE_CIDR)


def exists() -> bool:
    return NETNS_PATH.exists()


def owner() -> str | None:
    """The state directory of the clone that created the namespace, if it said so."""
    try:
        return OWNER_FILE.read_text().strip() or None
    except OSError:
        return None


def _routes() -> list[dict[str, object]]:
    done = run(["ip", "-j", "-4", "route", "show", "table", "all"], "list the host's routes", timeout=10)
    loaded = json.loads(done.stdout or "[]")
    return [r for r in loaded if isinstance(r, dict)]


def conflicts() -> list[str]:
    """Host routes that overlap the networks the cluster needs (ignoring the ones it made itself)."""
    found = []
    for route in _routes():
        dst = str(route.get("dst", ""))
        if dst in ("default", "") or route.get("table") == "local":
            continue
        if route.get("dev") == HOST_VETH or route.get("type") == "blackhole":
            continue
        try:
            network = ip_network(dst, strict=False)
        except ValueError:
            continue
        for claimed, what in CLAIMED.items():
            if isinstance(network, IPv4Network) and network.overlaps(claimed):
                found.append(f"{claimed} ({what}) overlaps the host route {dst} dev {route.get('dev', '?')}")
    return found


def _sysctl(key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    run(in_netns(["sh", "-c", f"echo {value} > {path}"]), f"set {key}={value} in {NETNS}", timeout=10)


def create(state: Path) -> None:
    """The namespace, the veth pair, the namespace's routes and sysctls, the host's blackholes and rules."""
    problems = conflicts()
    if problems:
        raise ClusterError(f"cannot use the cluster's networks: {problems[0]}")
    run(["ip", "netns", "add", NETNS], f"create the network namespace {NETNS}", timeout=10)
    OWNER_FILE.write_text(f"{state}\n")
    run(
        ["ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", NS_VETH, "netns", NETNS],
        "create the veth pair",
        timeout=10,
    )
    prefix = VETH_NET.prefixlen
    run(["ip", "addr", "add", f"{HOST_IP}/{prefix}", "dev", HOST_VETH], "address the host's veth", timeout=10)
    run(["ip", "link", "set", HOST_VETH, "up"], "bring the host's veth up", timeout=10)
    for argv in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "addr", "add", f"{NODE_IP}/{prefix}", "dev", NS_VETH],
        ["ip", "link", "set", NS_VETH, "up"],
        # Local programs of the namespace (the apiserver, `ip netns exec ... curl`) reach Services: the route
        # lets the kernel pick a source; kube-proxy's DNAT then sends the packet to a pod. Anything not
        # translated goes to the host, whose blackhole drops it.
        ["ip", "route", "add", str(SERVICE_CIDR), "via", HOST_IP],
    ):
        run(in_netns(argv), f"in {NETNS}: {' '.join(argv)}", timeout=10)
    NETNS_RESOLV_CONF.parent.mkdir(parents=True, exist_ok=True)
    NETNS_RESOLV_CONF.write_text(
        f"nameserver {DNS_SERVICE_IP}\nsearch svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}\noptions ndots:5\n"
    )
    _sysctl("net.ipv4.ip_forward", "1")
    _sysctl("net.bridge.bridge-nf-call-iptables", "1")
    for network in BLACKHOLES:
        run(["ip", "route", "add", "blackhole", str(network)], f"add the host's blackhole route {network}", timeout=10)
    for match in FORWARD_RULES:
        run(
            ["iptables", "-w", "5", "-I", "FORWARD", *match, "-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP"],
            f"add the host's FORWARD rule {' '.join(match)}",
            timeout=15,
        )


@dataclass(frozen=True)
class HostState:
    netns: bool
    veth: bool
    blackholes: list[str]
    rules: int

    @property
    def clean(self) -> bool:
        return not (self.netns or self.veth or self.blackholes or self.rules)


def host_state() -> HostState:
    """What of the harness's network set-up is on the host now."""
    veth = run(["ip", "link", "show", HOST_VETH], "look for the veth", timeout=10, check=False).returncode == 0
    blackholes = [
        str(r.get("dst")) for r in _routes() if r.get("type") == "blackhole" and str(r.get("dst")) in _blackhole_dsts()
    ]
    rules = run(["iptables", "-w", "5", "-S", "FORWARD"], "list the host's FORWARD rules", timeout=15, check=False)
    return HostState(netns=exists(), veth=veth, blackholes=blackholes, rules=rules.stdout.count(f'"{RULE_COMMENT}"'))


def _blackhole_dsts() -> set[str]:
    return {str(n) for n in BLACKHOLES}


def destroy() -> None:
    """Undo ``create`` (each step only if it is there); the namespace's own iptables rules go with it."""
    if run(["ip", "link", "show", HOST_VETH], "look for the veth", timeout=10, check=False).returncode == 0:
        run(["ip", "link", "del", HOST_VETH], "delete the veth pair", timeout=10)
    if exists():
        run(["ip", "netns", "del", NETNS], f"delete the network namespace {NETNS}", timeout=10)
    for dst in [str(r.get("dst")) for r in _routes() if r.get("type") == "blackhole"]:
        if dst in _blackhole_dsts():
            run(["ip", "route", "del", "blackhole", dst], f"delete the blackhole route {dst}", timeout=10)
    for match in FORWARD_RULES:
        rule = ["FORWARD", *match, "-m", "comment", "--comment", RULE_COMMENT, "-j", "DROP"]
        while (
            run(["iptables", "-w", "5", "-C", *rule], "check a FORWARD rule", timeout=15, check=False).returncode == 0
        ):
            run(["iptables", "-w", "5", "-D", *rule], f"delete the FORWARD rule {' '.join(match)}", timeout=15)
    NETNS_RESOLV_CONF.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        NETNS_RESOLV_CONF.parent.rmdir()
    OWNER_FILE.unlink(missing_ok=True)
