"""Running the tools that are natural in a shell (ip, iptables, nsenter, openssl, ctr, buildah) with
bounded timeouts and one-line errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from bftools.cluster.config import NETNS_PATH, ClusterError, MissingPrerequisite

#: sbin directories are not on every user's PATH; iptables, ip and nsenter live there.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment with the sbin directories on PATH (and ``extra`` on top)."""
    env = dict(os.environ)
    path = env.get("PATH", "")
    env["PATH"] = ":".join([p for p in path.split(":") if p] + [p for p in SYSTEM_PATH.split(":") if p not in path])
    env.update(extra or {})
    return env


def which(tool: str, hint: str) -> str:
    found = shutil.which(tool, path=environment()["PATH"])
    if found is None:
        raise MissingPrerequisite(f"{tool} is not installed: {hint}")
    return found


def run(
    argv: Sequence[str],
    what: str,
    *,
    timeout: float = 60,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; ClusterError naming ``what`` and the tool's last line of output when it fails."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=environment(env),
            input=input_text,
            cwd=cwd,
        )
    except FileNotFoundError:
        raise MissingPrerequisite(f"{what}: {argv[0]} is not installed (run scripts/setup k8s)") from None
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{what}: {argv[0]} did not finish in {timeout:.0f}s") from None
    if check and done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise ClusterError(f"{what}: {lines[-1] if lines else f'{argv[0]} exited {done.returncode}'}")
    return done


def in_netns(argv: Sequence[str]) -> list[str]:
    """``argv`` run inside the cluster's network namespace.

    nsenter --net, not `ip netns exec`: the latter remounts /sys, which hides the cgroup mounts from
    containerd and the kubelet. nsenter execs the program, so the pid it is started with is the program's.
    """
    return ["nsenter", f"--net={NETNS_PATH}", "--", *argv]


def in_netns_dns(argv: Sequence[str]) -> list[str]:
    """``argv`` run inside the cluster's network namespace with the cluster's DNS (`ip netns exec` mounts
    NETNS_RESOLV_CONF over /etc/resolv.conf for it): for clients, never for the node's own processes."""
    return ["ip", "netns", "exec", NETNS_PATH.name, *argv]


def ns_run(argv: Sequence[str], *, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command inside the namespace (e.g. ``ns_run(["curl", "-s", "http://10.96.0.10:9153/metrics"])``)."""
    return run(in_netns(argv), f"in {NETNS_PATH.name}: {' '.join(argv)}", timeout=timeout, check=check)
