"""What the node leaves on the host besides processes, and how teardown finds exactly that: mounts under
the state directory, the kubelet's cgroup subtree, the pods' processes in it, containerd's shims (which
outlive containerd) and the kubelet's links in /var/log/containers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from bftools.cluster.config import CGROUP_ROOT
from bftools.cluster.shell import run

CGROUP_MOUNT = Path("/sys/fs/cgroup")
CONTAINER_LOG_LINKS = Path("/var/log/containers")


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below ``directory``, deepest last (as mounted)."""
    prefix = str(directory).rstrip("/") + "/"
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split(" ")
            if len(fields) > 4:
                point = _unescape(fields[4])
                if point.startswith(prefix) or point == prefix.rstrip("/"):
                    found.append(Path(point))
    return found


def unmount_all(directory: Path) -> list[Path]:
    """Unmount everything under ``directory`` (deepest first; lazily when busy); what is still mounted."""
    for _ in range(3):
        points = mounts_under(directory)
        if not points:
            return []
        for point in sorted(set(points), key=lambda p: len(p.parts), reverse=True):
            if run(["umount", str(point)], f"unmount {point}", timeout=20, check=False).returncode != 0:
                run(["umount", "-l", str(point)], f"unmount {point}", timeout=20, check=False)
    return mounts_under(directory)


def cgroup_roots() -> list[Path]:
    """The kubelet's cgroup parent in each cgroup v1 hierarchy (or the v2 one) that has it."""
    roots = []
    with contextlib.suppress(OSError):
        for hierarchy in sorted(CGROUP_MOUNT.iterdir()):
            candidate = hierarchy / CGROUP_ROOT if hierarchy.is_dir() else None
            if candidate is not None and candidate.is_dir():
                roots.append(candidate)
    if (CGROUP_MOUNT / CGROUP_ROOT).is_dir():
        roots.append(CGROUP_MOUNT / CGROUP_ROOT)
    return roots


def prepare_cgroups() -> None:
    """Create the kubelet's cgroup parent in every v1 hierarchy (it must exist before the kubelet starts)."""
    with contextlib.suppress(OSError):
        for hierarchy in sorted(CGROUP_MOUNT.iterdir()):
            if not (hierarchy / "cgroup.procs").exists() or hierarchy.name == "unified":
                continue
            target = hierarchy / CGROUP_ROOT
            target.mkdir(exist_ok=True)
            for name in ("cpuset.cpus", "cpuset.mems"):  # an empty cpuset takes no process
                if (target / name).exists() and not (target / name).read_text().strip():
                    (target / name).write_text((hierarchy / name).read_text())


def cgroup_pids() -> set[int]:
    """The processes of the kubelet's cgroup subtree. The tree changes while it is read (pods' cgroups go
    as their processes die): a directory gone mid-walk is skipped, not an error (Path.rglob raises)."""
    pids: set[int] = set()
    for root in cgroup_roots():
        for directory, _, files in os.walk(root, onerror=lambda error: None):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError, ValueError):
                    pids.update(int(p) for p in (Path(directory) / "cgroup.procs").read_text().split())
    return pids


def kill_cgroup_processes(timeout: float = 15) -> int:
    """SIGKILL every process in the kubelet's cgroup subtree (the pods' processes) until none is left."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = cgroup_pids()
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.2)
    return len(killed)


def remove_cgroups() -> list[Path]:
    """Remove the kubelet's cgroup subtree, leaves first; the directories that would not go."""
    left = []
    for root in cgroup_roots():
        for directory, _, _ in os.walk(root, topdown=False, onerror=lambda error: None):  # leaves first
            with contextlib.suppress(OSError):
                Path(directory).rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()
        if root.exists():
            left.append(root)
    return left


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def shims(socket: Path) -> list[int]:
    """containerd's shims for our containerd: their executable is a containerd-shim and their command line
    names our containerd's socket (a path in this clone's state directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if "containerd-shim" in Path(_exe(pid)).name and f"-address {socket}" in _cmdline(pid):
                found.append(pid)
    return found


def kill_shims(socket: Path, timeout: float = 10) -> int:
    pids = shims(socket)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while shims(socket) and time.monotonic() < deadline:
        time.sleep(0.2)
    return len(pids)


def remove_log_links(pod_logs: Path) -> int:
    """The kubelet's symlinks in /var/log/containers that point into this cluster's pod log directory."""
    removed = 0
    with contextlib.suppress(OSError):
        for link in CONTAINER_LOG_LINKS.iterdir():
            with contextlib.suppress(OSError):
                if link.is_symlink() and os.readlink(link).startswith(str(pod_logs) + "/"):
                    link.unlink()
                    removed += 1
    return removed


#: Directories the node's programs create outside the state directory whatever they are told (the kubelet's
#: device-plugin socket, containerd's shim sockets, the CNI result cache, the kubelet's log links, ip's
#: netns directory). `up` records which ones did not exist; `down` removes those again.
SYSTEM_DIRS = (
    Path("/run/containerd"),
    Path("/var/lib/kubelet"),
    Path("/var/lib/cni"),
    Path("/var/log/containers"),
    Path("/run/netns"),
    Path("/etc/netns"),
)
#: Wholly ours when we created them (nothing else on the machine runs containerd).
OWNED_WHEN_CREATED = (Path("/run/containerd"),)
CNI_RESULTS = Path("/var/lib/cni/results")
KUBELET_DEVICE_SOCKET = Path("/var/lib/kubelet/device-plugins/kubelet.sock")


def absent_system_dirs() -> list[str]:
    return [str(d) for d in SYSTEM_DIRS if not d.exists()]


def _remove_empty_tree(top: Path) -> None:
    if not top.is_dir() or top.is_symlink():
        return
    for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            directory.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()


def clean_system_dirs(network: str, created: list[str]) -> None:
    """Remove what the node left outside the state directory: its CNI results (named after its network)
    and, in the directories it created, everything of its own and then the emptied directories."""
    ids = set()
    with contextlib.suppress(OSError):
        for result in CNI_RESULTS.glob(f"{network}-*"):
            ids.add(result.name[len(network) + 1 :].rsplit("-", 1)[0])
            result.unlink()
        for container_id in ids:
            for loopback in CNI_RESULTS.glob(f"cni-loopback-{container_id}-*"):
                loopback.unlink()
    made = {Path(d) for d in created}
    if KUBELET_DEVICE_SOCKET.parent.parent in made:
        KUBELET_DEVICE_SOCKET.unlink(missing_ok=True)
    for directory in sorted(made, key=lambda p: len(p.parts), reverse=True):
        if directory in OWNED_WHEN_CREATED and not directory.is_symlink():
            shutil.rmtree(directory, ignore_errors=True)
            continue
        if (
            directory.is_dir()
            and not any(directory.iterdir())
            and mounts_under(directory.parent)
            and (directory in mounts_under(directory.parent))
        ):  # ip netns makes its directory a mount point of its own
            run(["umount", str(directory)], f"unmount {directory}", timeout=20, check=False)
        _remove_empty_tree(directory)
