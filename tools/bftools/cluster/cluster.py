"""The local one-node Kubernetes: `up`, `down`, `status`.

State lives in the clone's .stack/cluster/ (git-ignored): state.json (every process started, with its pid
and the string of its command line that proves it), logs/, pki/, etc/ (configurations), run/ (etcd,
containerd, the kubelet, volumes, Kafka: wiped at `down`, so every `up` is a fresh cluster). The
registry's storage is a cache in ~/.cache/black-friday/k8s/registry (kept, so a second `up`, even from
another clone, builds and pushes nothing new).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client

from bftools.cluster import addons, broker, components, host, images, kube, netns, nodeconf, pki, values
from bftools.cluster.components import Component
from bftools.cluster.config import (
    APISERVER_URL,
    CNI_NETWORK,
    HOST_IP,
    KAFKA_BOOTSTRAP,
    KAFKA_DEAD_LETTER_TOPIC,
    KAFKA_GROUP,
    KAFKA_TOPIC,
    KUBE_ROUTER_HEALTH_PORT,
    LOCK_FILE,
    NETNS,
    NODE_IP,
    NODE_NAME,
    REGISTRY,
    ClusterError,
    Layout,
    MissingPrerequisite,
)
from bftools.cluster.shell import environment, run, which
from bftools.runtime.process import Proc, spawn, wait_for

Say = Callable[[str], None]
STOP_TIMEOUTS = {"kube-apiserver": 15.0, "etcd": 15.0, "kafka": 30.0, "containerd": 15.0, "kubelet": 15.0}


def _quiet(message: str) -> None:
    """The default progress reporter: says nothing (the CLI passes one that prints)."""


@dataclass(frozen=True)
class ClusterInfo:
    """What a user or a test needs to use the running cluster."""

    kubeconfig: Path
    #: host:port of the registry: the host pushes there (through the veth) and the node pulls from there.
    registry: str
    kafka_bootstrap: str
    kafka_topic: str
    kafka_dead_letter_topic: str
    node_ip: str
    host_ip: str
    netns: str
    node_name: str
    values_file: Path
    app_image: str
    app_tag: str
    valkey_image: str
    state: Path

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterInfo:
        paths = {"kubeconfig", "values_file", "state"}
        fields: dict[str, Any] = {
            k: Path(v) if k in paths else v for k, v in data.items() if k in cls.__dataclass_fields__
        }
        return cls(**fields)


@dataclass(frozen=True)
class ProcStatus:
    name: str
    pid: int
    alive: bool
    log: Path


@dataclass(frozen=True)
class Status:
    procs: list[ProcStatus]
    host: netns.HostState
    owner: str | None
    node_ready: bool | None
    info: ClusterInfo | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return bool(self.procs) and all(p.alive for p in self.procs) and self.host.netns and bool(self.node_ready)


@dataclass
class Cluster:
    layout: Layout = field(default_factory=Layout.default)
    say: Say = _quiet
    _lock_depth: int = field(default=0, init=False, repr=False, compare=False)

    # ---- state -------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self.layout.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return loaded

    def _write_state(self, state: dict[str, Any]) -> None:
        """Replace the state file at once (a reader never sees half of it)."""
        self.layout.state.mkdir(parents=True, exist_ok=True)
        tmp = self.layout.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.layout.state_file)

    def _save(self, procs: list[Proc], info: ClusterInfo | None = None) -> None:
        self._write_state(
            {
                "procs": [{"name": p.name, "pid": p.pid, "log": str(p.log), "marker": p.marker} for p in procs],
                "info": info.to_json() if info else None,
                # system directories that did not exist before `up` (removed again by `down`)
                "created": self.state().get("created", []),
            }
        )

    def _record_created(self, created: list[str]) -> None:
        self._write_state({"procs": [], "info": None, **self.state(), "created": created})

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One `up` or `down` at a time on this host, whichever clone runs it: the namespace, the routes and
        the kubelet's cgroups are shared by name, and a cluster still starting has no live process to show
        yet. Re-entrant (`up` calls `down`); the kernel drops the lock if its holder dies."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        with LOCK_FILE.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.say("waiting for another cluster-up or cluster-down on this machine to finish")
                fcntl.flock(lock, fcntl.LOCK_EX)
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0
                fcntl.flock(lock, fcntl.LOCK_UN)

    def procs(self) -> list[Proc]:
        return _recorded(self.state())

    def info(self) -> ClusterInfo | None:
        data = self.state().get("info")
        return ClusterInfo.from_json(data) if isinstance(data, dict) else None

    def _ours(self) -> bool:
        """The namespace (if any) was made by this clone, or by a clone whose cluster no longer runs (a run
        killed before its clean-up leaves the namespace behind; its processes died with it)."""
        owner = netns.owner()
        if owner is None or owner == str(self.layout.state):
            return True
        return not _any_alive(Path(owner) / self.layout.state_file.name)

    def api(self) -> client.ApiClient:
        """A kubernetes ApiClient with the admin identity (close it, or use it in a with block)."""
        return kube.api_client(self.layout)

    def running(self) -> bool:
        """Every recorded process alive, the namespace there and the apiserver ready."""
        procs = self.procs()
        if not procs or not netns.exists() or not all(p.alive() for p in procs) or self.info() is None:
            return False
        with self.api() as api:
            return kube.readyz(api)

    # ---- up ----------------------------------------------------------------------------------------
    def check_prerequisites(self) -> None:
        """One-line errors naming what is missing, before anything starts."""
        for name in (*components.K8S_BINARIES, "coredns", "metrics-server", "pause"):
            if not self.layout.binary(name).is_file():
                raise MissingPrerequisite(f"{name} binary missing in {self.layout.bin}: run scripts/setup k8s")
        for tool, hint in (
            ("ip", "install iproute2 (scripts/setup k8s)"),
            ("nsenter", "install util-linux (scripts/setup k8s)"),
            ("iptables", "run scripts/setup k8s"),
            ("conntrack", "run scripts/setup k8s"),
            ("containerd", "run scripts/setup k8s"),
            ("runc", "run scripts/setup k8s"),
            ("openssl", "install openssl (scripts/setup k8s)"),
            ("buildah", "run scripts/setup registry"),
            ("skopeo", "run scripts/setup registry"),
            ("mmdebstrap", "run scripts/setup registry"),
        ):
            which(tool, hint)
        components.registry_binary()
        if not (nodeconf.CNI_BIN / "bridge").is_file():
            raise MissingPrerequisite(f"the CNI plugins are missing in {nodeconf.CNI_BIN}: run scripts/setup k8s")
        if not Path("/proc/sys/net/bridge").is_dir():
            raise MissingPrerequisite("the kernel has no bridge netfilter (br_netfilter): modprobe br_netfilter")
        if not host.CGROUP_MOUNT.is_dir():
            raise MissingPrerequisite("no cgroup file system at /sys/fs/cgroup")
        if len(str(self.layout.containerd_socket)) > 100:
            raise ClusterError(
                f"the state directory {self.layout.state} is too deep for a unix socket: set BF_CLUSTER_DIR"
            )
        broker.prepare_check()

    def up(self) -> tuple[ClusterInfo, bool]:
        """Start the cluster (or find it running); its info and whether it was already running."""
        with self._exclusive():
            return self._up()

    def _up(self) -> tuple[ClusterInfo, bool]:
        if not self._ours():
            raise ClusterError(
                f"the network namespace {NETNS} belongs to another clone's cluster ({netns.owner()}): "
                "stop it there with make cluster-down"
            )
        info = self.info()
        if info is not None and self.running():
            return info, True
        self.check_prerequisites()
        if self.procs() or netns.exists():
            owner = netns.owner()
            left_by = "" if owner in (None, str(self.layout.state)) else f" (by {owner}, whose cluster no longer runs)"
            self.say(f"cleaning up what a previous run left{left_by}")
            self.down()
        started = time.monotonic()
        procs: list[Proc] = []
        try:
            info = self._start(procs)
        except BaseException:
            self._save(procs)
            self.say("start failed: stopping what was started")
            self.down()
            raise
        self.say(f"cluster up in {time.monotonic() - started:.0f}s")
        return info, False

    def _spawn(self, component: Component, procs: list[Proc]) -> Proc:
        env = environment()
        proc = spawn(
            component.name,
            component.command(),
            log=self.layout.logs / f"{component.name}.log",
            env=env,
            marker=component.marker,
            # The cluster is stopped by `down` (mounts, network namespace, containers), never by a signal
            # from the test run that started it: a killed run leaves it for `make cluster-down`.
            die_with_parent=False,
        )
        procs.append(proc)
        self._save(procs)
        return proc

    def restart(self, component: Component, ready: Callable[[Proc], bool], timeout: float = 120) -> Proc:
        """Start a component of the running cluster again after it died (make cluster-chaos kills the broker),
        in its place in the recorded state; wait until ``ready``."""
        with self._exclusive():
            info = self.info()
            procs = [p for p in self.procs() if p.name != component.name]
            proc = self._spawn(component, procs)
            self._save(procs, info)
        self._wait(proc, lambda: ready(proc), timeout, component.name)
        return proc

    def _wait(self, proc: Proc, ready: Callable[[], bool], timeout: float, what: str) -> None:
        started = time.monotonic()

        def answered() -> bool:
            try:
                return ready()
            except kube.UNREACHABLE:  # not up yet, or the object not registered yet
                return False

        if not wait_for(lambda: answered() or not proc.alive(), timeout, interval=0.5) or not proc.alive():
            state = "exited" if not proc.alive() else f"was not ready after {timeout:.0f}s"
            raise ClusterError(f"{what} {state}; see {proc.log}: {proc.tail(1).strip()[:300]}")
        self.say(f"{what} ready ({time.monotonic() - started:.1f}s)")

    def _start(self, procs: list[Proc]) -> ClusterInfo:
        layout = self.layout
        say = self.say
        for directory in (layout.logs, layout.run, layout.etc):
            if directory == layout.logs and directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True, exist_ok=True)
        say(f"network namespace {NETNS}: veth {HOST_IP} (host) <-> {NODE_IP} (node), blackhole routes on the host")
        self._record_created(host.absent_system_dirs())
        netns.create(layout.state)
        if pki.ensure(layout.pki, layout.etc, layout.kubeconfig):
            say(f"certificates issued in {layout.pki}")
        pause_ref = f"{REGISTRY}/pause:bf-1"
        nodeconf.registry(layout)
        nodeconf.containerd(layout, pause_ref)
        nodeconf.cni(layout)
        nodeconf.kubelet(layout)
        nodeconf.kube_proxy(layout)
        host.prepare_cgroups()

        registry = self._spawn(components.registry(layout), procs)
        etcd = self._spawn(components.etcd(layout), procs)
        apiserver = self._spawn(components.kube_apiserver(layout), procs)
        containerd = self._spawn(components.containerd(layout), procs)
        kafka = self._spawn(broker.prepare(layout), procs)
        self._wait(registry, lambda: _http_ok(f"http://{REGISTRY}/v2/"), 30, f"registry {REGISTRY}")
        built = images.ensure(layout, say)
        if built.pause != pause_ref:
            raise ClusterError(f"the pause image is {built.pause}, containerd expects {pause_ref}")

        with self.api() as api:
            self._wait(apiserver, lambda: etcd.alive() and kube.readyz(api), 90, "kube-apiserver")
            self._spawn(components.kube_controller_manager(layout), procs)
            self._spawn(components.kube_scheduler(layout), procs)
            socket = layout.containerd_socket
            self._wait(containerd, lambda: socket.exists() and _ctr_ok(socket), 30, "containerd")
            kubelet = self._spawn(components.kubelet(layout), procs)
            self._spawn(components.kube_proxy(layout), procs)
            for manifest in (
                *addons.storage_class(),
                *addons.coredns(built.coredns),
                *addons.metrics_server(built.metrics_server),
                *addons.kube_router_rbac(),
            ):
                kube.apply(api, manifest)
            self._spawn(components.provisioner(layout), procs)
            self._wait(kubelet, lambda: kube.node_ready(api, NODE_NAME), 120, f"node {NODE_NAME}")
            router = self._spawn(components.kube_router(layout), procs)  # it looks its node up at start
            mark = time.monotonic()
            kube.wait_until(lambda: kube.deployment_ready(api, "kube-system", "coredns"), 120, "CoreDNS")
            say(f"CoreDNS ready ({time.monotonic() - mark:.1f}s)")
            mark = time.monotonic()
            kube.wait_until(lambda: kube.apiservice_available(api, "v1beta1.metrics.k8s.io"), 150, "metrics-server")
            say(f"metrics-server ready ({time.monotonic() - mark:.1f}s)")
            router_health = f"http://{NODE_IP}:{KUBE_ROUTER_HEALTH_PORT}/healthz"
            self._wait(router, lambda: _http_ok(router_health), 60, "kube-router (the NetworkPolicies enforced)")
            kube.apply_crds(api, addons.edge_crds(), "Traefik's and the Gateway API's CRDs")
            for manifest in addons.traefik(built.traefik):
                kube.apply(api, manifest)
            mark = time.monotonic()
            kube.wait_until(lambda: kube.deployment_ready(api, addons.TRAEFIK_NAMESPACE, "traefik"), 120, "Traefik")
            say(
                f"Traefik ready on http://{NODE_IP}:80, the Ingress class traefik and the Gateway "
                f"{addons.TRAEFIK_NAMESPACE}/{addons.GATEWAY_NAME} ({time.monotonic() - mark:.1f}s)"
            )
        kafka_log_start = 0
        self._wait(
            kafka,
            lambda: broker.ready(kafka.log, kafka_log_start),
            120,
            f"Kafka {KAFKA_BOOTSTRAP}",
        )
        broker.ensure_users(layout)
        broker.create_pipeline(KAFKA_TOPIC, KAFKA_GROUP, layout)
        say(f"topics {KAFKA_TOPIC} and {KAFKA_DEAD_LETTER_TOPIC} ready, the writer's and consumer's users and ACLs")
        dead = [p.name for p in procs if not p.alive()]
        if dead:
            raise ClusterError(f"{', '.join(dead)} exited during start; see {layout.logs}")
        values.write(layout.values_file, built)
        info = ClusterInfo(
            kubeconfig=layout.kubeconfig,
            registry=REGISTRY,
            kafka_bootstrap=KAFKA_BOOTSTRAP,
            kafka_topic=KAFKA_TOPIC,
            kafka_dead_letter_topic=KAFKA_DEAD_LETTER_TOPIC,
            node_ip=NODE_IP,
            host_ip=HOST_IP,
            netns=NETNS,
            node_name=NODE_NAME,
            values_file=layout.values_file,
            app_image=built.app,
            app_tag=built.app_tag,
            valkey_image=built.valkey,
            state=layout.state,
        )
        self._save(procs, info)
        return info

    # ---- down --------------------------------------------------------------------------------------
    def down(self) -> list[str]:
        """Stop every recorded process, the pods' processes and shims, then remove the mounts, cgroups,
        namespace, veth, routes and rules; wipe run/. What was stopped."""
        with self._exclusive():
            return self._down()

    def _down(self) -> list[str]:
        layout = self.layout
        procs = {p.name: p for p in self.procs()}
        created = [str(d) for d in self.state().get("created", [])]
        stopped: list[str] = []

        def stop(name: str) -> None:
            proc = procs.get(name)
            if proc is not None and proc.alive():
                proc.stop(STOP_TIMEOUTS.get(name, 10.0))
                stopped.append(name)

        # The namespace, the kubelet's cgroups and the system directories are shared by name: only the clone
        # that made the namespace touches them (another clone's `down` stops its own recorded processes only).
        ours = self._ours()
        if not ours:
            self.say(f"the network namespace {NETNS} belongs to another clone's cluster ({netns.owner()}): left alone")
        for name in ("kafka", "provisioner", "kube-proxy", "kubelet"):
            stop(name)
        pods = host.kill_cgroup_processes() if ours else 0
        if pods:
            stopped.append(f"{pods} pod processes")
        stop("containerd")
        shims = host.kill_shims(layout.containerd_socket)
        if shims:
            stopped.append(f"{shims} containerd shims")
        for name in ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd", "registry"):
            stop(name)
        for name in list(procs):  # anything recorded that is not in the lists above
            stop(name)
        left = host.unmount_all(layout.state)
        host.remove_log_links(layout.run / "pod-logs")
        if ours:
            host.remove_cgroups()
            netns.destroy()
            host.clean_system_dirs(CNI_NETWORK, created)
        if left:
            raise ClusterError(f"could not unmount {left[0]} (and {len(left) - 1} more): run/ is kept")
        shutil.rmtree(layout.run, ignore_errors=True)
        layout.state_file.unlink(missing_ok=True)
        layout.values_file.unlink(missing_ok=True)
        return stopped

    # ---- status ------------------------------------------------------------------------------------
    def status(self) -> Status:
        procs = [ProcStatus(p.name, p.pid, p.alive(), p.log) for p in self.procs()]
        node_ready: bool | None = None
        problems: list[str] = []
        if procs and netns.exists():
            with self.api() as api:
                try:
                    node_ready = kube.node_ready(api, NODE_NAME)
                except kube.UNREACHABLE as exc:
                    node_ready = False
                    reason = "connection refused" if "refused" in str(exc) else type(exc).__name__
                    problems.append(f"the apiserver at {APISERVER_URL} does not answer ({reason})")
        return Status(
            procs=procs,
            host=netns.host_state(),
            owner=netns.owner(),
            node_ready=node_ready,
            info=self.info(),
            problems=problems,
        )


def _recorded(state: dict[str, Any]) -> list[Proc]:
    return [
        Proc(name=p["name"], pid=int(p["pid"]), log=Path(p["log"]), marker=p["marker"]) for p in state.get("procs", [])
    ]


def _any_alive(state_file: Path) -> bool:
    """Whether any process recorded in a cluster's state file still runs (a missing file: none)."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and any(p.alive() for p in _recorded(state))


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _ctr_ok(socket: Path) -> bool:
    return run(["ctr", "--address", str(socket), "version"], "ctr version", timeout=10, check=False).returncode == 0
