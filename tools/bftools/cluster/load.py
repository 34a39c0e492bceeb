"""`make cluster-load`: the seed's HPA experiment on the local cluster.

A release of the chart (values/dev.yaml, the cluster's values, values/hpa-experiment.yaml: a quick
scale-down) in a namespace of its own; Locust (apps/blackfriday/loadgen/locustfile.py) run inside the
cluster's network namespace against the api Service for a bounded time; meanwhile, every few seconds, the
api HPA's status and the api pods' CPU from the resource metrics API (metrics.k8s.io), through the
kubernetes client; then the same until the HPA is back at its minimum. The samples go to a CSV and a PNG
(docs/cluster-load.csv, docs/cluster-load.png), the summary between the markers cluster-load of
docs/local-cluster.md (--write-doc), and the release is uninstalled.
"""

from __future__ import annotations

import csv
import datetime
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bftools.cluster import broker, release
from bftools.cluster.cluster import Cluster, ClusterInfo
from bftools.cluster.config import ClusterError
from bftools.cluster.kube import UNREACHABLE
from bftools.cluster.shell import in_netns
from bftools.runtime.paths import ROOT
from bftools.stack.loadtest import LOCUSTFILE, LocustResult, summarize

NAMESPACE: Final = "bf-load"
RELEASE: Final = "bf"
EXPERIMENT_VALUES: Final = release.VALUES / "hpa-experiment.yaml"
DOCS: Final = ROOT / "docs"
COMPONENTS: Final = ("api", "bridge", "consumer")
#: Seconds sampled at rest before Locust starts.
BASELINE: Final = 10.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class Experiment:
    """One run of the experiment: the load, how long to wait for the scale-down, how often to sample, and where
    the samples go (``out`` without its suffix: .csv and .png are written beside each other)."""

    users: int = 100  # Locust users
    spawn_rate: float = 20.0  # users started per second
    seconds: int = 150  # how long Locust runs
    cooldown: int = 150  # at most this long for the HPA to be back at its minimum
    interval: float = 5.0  # seconds between samples
    out: Path = DOCS / "cluster-load"


@dataclass(frozen=True)
class Sample:
    """One look at the api's autoscaling, `t` seconds after the load started (negative: before)."""

    t: float
    phase: str  # "idle", "load" or "cooldown"
    api_replicas: int  # the HPA's status.currentReplicas
    api_desired: int  # status.desiredReplicas
    api_ready: int  # api pods Ready
    api_cpu_percent: float | None  # the HPA's current average utilization (of the requests), None: <unknown>
    api_cpu_millicores: float  # the sum of the api pods' CPU in metrics.k8s.io
    bridge_replicas: int
    consumer_replicas: int
    rps: float | None = None  # Locust's requests/s around that time


COLUMNS: Final = [f.name for f in fields(Sample)]


def cpu_millicores(quantity: str) -> float:
    """A CPU quantity of metrics.k8s.io ("12345678n", "150m", "1") in millicores."""
    units = {"n": 1e-6, "u": 1e-3, "m": 1.0}
    if quantity and quantity[-1] in units:
        return float(quantity[:-1]) * units[quantity[-1]]
    return float(quantity) * 1000


class Probe:
    """Reads what the experiment records, through the kubernetes client."""

    def __init__(self, api: client.ApiClient, namespace: str, release_name: str) -> None:
        self.autoscaling = client.AutoscalingV2Api(api)
        self.core = client.CoreV1Api(api)
        self.metrics = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.release = release_name

    def hpa(self, component: str) -> client.V2HorizontalPodAutoscaler:
        return self.autoscaling.read_namespaced_horizontal_pod_autoscaler(
            f"{self.release}-{component}", self.namespace, _request_timeout=10
        )

    def selector(self, component: str) -> str:
        return f"app.kubernetes.io/instance={self.release},app.kubernetes.io/name={component}"

    def ready_pods(self, component: str) -> int:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector(component), _request_timeout=10
        )
        return sum(
            1
            for pod in pods.items
            if pod.status
            and pod.status.conditions
            and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
        )

    def cpu(self, component: str) -> float:
        listed: dict[str, Any] = self.metrics.list_namespaced_custom_object(  # type: ignore[assignment]
            "metrics.k8s.io",
            "v1beta1",
            self.namespace,
            "pods",
            label_selector=self.selector(component),
            _request_timeout=10,
        )
        return sum(cpu_millicores(c["usage"]["cpu"]) for item in listed.get("items", []) for c in item["containers"])

    def sample(self, t: float, phase: str) -> Sample:
        hpas = {c: self.hpa(c) for c in COMPONENTS}
        api = hpas["api"].status
        utilization = None
        for metric in (api.current_metrics or []) if api else []:
            if metric.resource is not None and metric.resource.name == "cpu":
                utilization = metric.resource.current.average_utilization
        return Sample(
            t=round(t, 1),
            phase=phase,
            api_replicas=int(api.current_replicas or 0) if api else 0,
            api_desired=int(api.desired_replicas or 0) if api else 0,
            api_ready=self.ready_pods("api"),
            api_cpu_percent=None if utilization is None else float(utilization),
            api_cpu_millicores=round(self.cpu("api"), 1),
            bridge_replicas=int(hpas["bridge"].status.current_replicas or 0) if hpas["bridge"].status else 0,
            consumer_replicas=int(hpas["consumer"].status.current_replicas or 0) if hpas["consumer"].status else 0,
        )


class Sampler(threading.Thread):
    """Samples every `interval` seconds until stopped; `phase()` says what the run is doing."""

    def __init__(self, probe: Probe, interval: float, phase: Callable[[], str], say: Say) -> None:
        super().__init__(daemon=True)
        self.probe = probe
        self.interval = interval
        self.phase = phase
        self.say = say
        self.samples: list[Sample] = []
        self.zero = time.monotonic()
        self.stopped = threading.Event()
        self.errors = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            started = time.monotonic()
            try:
                sample = self.probe.sample(started - self.zero, self.phase())
            except (*UNREACHABLE, KeyError, ValueError):
                self.errors += 1
            else:
                self.samples.append(sample)
                cpu = "<unknown>" if sample.api_cpu_percent is None else f"{sample.api_cpu_percent:.0f}%"
                self.say(
                    f"t={sample.t:6.0f}s {sample.phase:<8} api replicas {sample.api_replicas} "
                    f"(desired {sample.api_desired}, ready {sample.api_ready}), CPU {cpu} of the requests, "
                    f"{sample.api_cpu_millicores:.0f}m"
                )
            self.stopped.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None


def locust_rps(history: Path, zero_epoch: float) -> list[tuple[float, float]]:
    """(t since the load started, requests/s) from Locust's --csv stats history (its Aggregated rows)."""
    if not history.is_file():
        return []
    points = []
    with history.open() as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == "Aggregated" and row.get("Requests/s") not in (None, "", "N/A"):
                points.append((float(row["Timestamp"]) - zero_epoch, float(row["Requests/s"])))
    return points


def with_rps(samples: Sequence[Sample], points: Sequence[tuple[float, float]]) -> list[Sample]:
    """Each sample with Locust's requests/s at the nearest earlier second (None outside the load)."""
    out = []
    for sample in samples:
        earlier = [rps for t, rps in points if t <= sample.t]
        rps = earlier[-1] if earlier and sample.phase == "load" else None
        out.append(Sample(**{**asdict(sample), "rps": rps}))
    return out


def write_csv(samples: Sequence[Sample], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for sample in samples:
            writer.writerow({k: ("" if v is None else v) for k, v in asdict(sample).items()})
    return path


def read_csv(path: Path) -> list[Sample]:
    def value(name: str, text: str) -> Any:
        if name == "phase":
            return text
        if text == "":
            return None
        return float(text) if name in ("t", "api_cpu_percent", "api_cpu_millicores", "rps") else int(text)

    with path.open() as handle:
        return [Sample(**{k: value(k, v) for k, v in row.items()}) for row in csv.DictReader(handle)]


def plot(samples: Sequence[Sample], path: Path, title: str, target: int, maximum: int) -> Path:
    """Replicas (top) and CPU (bottom) over time, the load's window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t for s in samples]
    load = [s.t for s in samples if s.phase == "load"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[2, 3])
    for axis in (top, bottom):
        if load:  # Locust starts at t = 0; the last sample taken while it ran ends the window
            axis.axvspan(0, max(load), color="#f4d9a6", alpha=0.5, lw=0, label="Locust running")
        axis.grid(alpha=0.3)
    top.step(t, [s.api_replicas for s in samples], where="post", color="#1f5fa8", lw=2.2, label="api replicas (HPA)")
    top.step(t, [s.api_desired for s in samples], where="post", color="#1f5fa8", lw=1, ls="--", label="desired")
    top.step(t, [s.bridge_replicas for s in samples], where="post", color="#888", lw=1, label="bridge replicas")
    top.set_ylim(0, maximum + 0.6)
    top.set_yticks(range(0, maximum + 1))
    top.set_ylabel("replicas")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title, fontsize=10)
    known = [(s.t, s.api_cpu_percent) for s in samples if s.api_cpu_percent is not None]
    bottom.plot(
        [k[0] for k in known], [k[1] for k in known], color="#c0392b", lw=2, label="api CPU, % of requests (HPA)"
    )
    bottom.axhline(target, color="#c0392b", ls=":", lw=1.2, label=f"target {target}%")
    bottom.plot(t, [s.api_cpu_millicores for s in samples], color="#7d3c98", lw=1, label="api CPU, millicores (sum)")
    bottom.set_ylabel("CPU")
    bottom.set_xlabel("seconds since Locust started")
    rps = [(s.t, s.rps) for s in samples if s.rps is not None]
    if rps:
        right = bottom.twinx()
        right.plot([r[0] for r in rps], [r[1] for r in rps], color="#27ae60", lw=1, alpha=0.8, label="Locust req/s")
        right.set_ylabel("requests/s", color="#27ae60")
        right.legend(loc="upper right", fontsize=8)
    bottom.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


@dataclass(frozen=True)
class Outcome:
    samples: list[Sample]
    locust: LocustResult | None
    peak_replicas: int
    scaled_up_after: float | None  # seconds after the load started until the api ran 3 replicas
    back_to_min_after: float | None  # seconds after the load stopped until it was back at 1
    peak_cpu_percent: float | None

    def summary(self, minimum: int, maximum: int) -> str:
        lines = [
            f"api HPA: {minimum} -> {self.peak_replicas} replicas"
            + (f" ({self.scaled_up_after:.0f}s after the load started)" if self.scaled_up_after is not None else "")
            + (
                f", back to {minimum} {self.back_to_min_after:.0f}s after it stopped"
                if self.back_to_min_after is not None
                else f", NOT back to {minimum} when the run ended"
            ),
            f"peak api CPU {self.peak_cpu_percent:.0f}% of its requests" if self.peak_cpu_percent is not None else "",
        ]
        if self.locust is not None:
            lines.append(
                f"Locust: {self.locust.requests} requests, {self.locust.failures} failures, "
                f"{self.locust.rps:.1f} req/s, p50 {self.locust.p50_ms:.0f} ms, p95 {self.locust.p95_ms:.0f} ms"
            )
        if self.peak_replicas < maximum:
            lines.append(f"the api did not reach {maximum} replicas: more users (--users) or a longer run (--seconds)")
        return "\n".join(line for line in lines if line)


def doc_section(
    done: Outcome, experiment: Experiment, hpa: tuple[int, int, int], elapsed: float, date: datetime.date
) -> str:
    """What --write-doc puts between the markers cluster-load of docs/local-cluster.md: the run and its summary.
    ``hpa`` is the api HPA's (minimum, maximum, CPU target %)."""
    minimum, maximum, target = hpa
    minutes, seconds = divmod(round(elapsed), 60)
    return "\n".join(
        [
            f"Written by `make cluster-load` on {date.isoformat()}: {experiment.users} Locust users (started "
            f"{experiment.spawn_rate:g} a second) for {experiment.seconds} s against the api, whose HPA runs "
            f"{minimum}-{maximum} replicas at {target} % CPU; from the install to the end of the scale-down, "
            f"{minutes} min {seconds:02d} s.",
            "",
            "```",
            done.summary(minimum, maximum),
            "```",
        ]
    )


def outcome(samples: list[Sample], locust: LocustResult | None, load_seconds: float, minimum: int) -> Outcome:
    peak = max((s.api_replicas for s in samples), default=0)
    up = next((s.t for s in samples if s.phase == "load" and s.api_replicas >= peak and peak > minimum), None)
    down = next((s.t - load_seconds for s in samples if s.phase == "cooldown" and s.api_replicas <= minimum), None)
    cpus = [s.api_cpu_percent for s in samples if s.api_cpu_percent is not None]
    return Outcome(samples, locust, peak, up, down, max(cpus) if cpus else None)


def run(experiment: Experiment, say: Say, write: Callable[[str], None] | None = None) -> Outcome:
    """The experiment on the local cluster (started for the run, and stopped after it, if it was not running);
    ``write`` gets doc_section's text."""
    cluster = Cluster(say=say)
    info, already = cluster.up()
    try:
        with cluster.api() as api:
            return _experiment(cluster, info, api, experiment, say, write)
    finally:
        if not already:
            say("stopping the cluster this run started")
            cluster.down()


def _experiment(
    cluster: Cluster,
    info: ClusterInfo,
    api: client.ApiClient,
    experiment: Experiment,
    say: Say,
    write: Callable[[str], None] | None = None,
) -> Outcome:
    users, spawn_rate, seconds = experiment.users, experiment.spawn_rate, experiment.seconds
    others = release.chart_consumers(api)
    if others:
        raise ClusterError(
            f"a release of the chart already runs ({', '.join(others)}): its consumer would share the broker's "
            "consumer group and topic; uninstall it first"
        )
    kubeconfig = info.kubeconfig
    broker.apply_client_secret(api, NAMESPACE, cluster.layout)  # the services' Kafka logins
    args = [*release.readme_install(RELEASE, NAMESPACE, info.values_file), "-f", str(EXPERIMENT_VALUES)]
    say(f"helm install {RELEASE} -n {NAMESPACE} (values/dev.yaml, the cluster's values, {EXPERIMENT_VALUES.name})")
    started = time.monotonic()
    release.helm(kubeconfig, "install", *args, "--wait", "--timeout", "4m", timeout=300, check=True)
    say(f"installed and ready in {time.monotonic() - started:.0f}s")
    try:
        probe = Probe(api, NAMESPACE, RELEASE)
        spec = probe.hpa("api").spec
        minimum, maximum = int(spec.min_replicas or 1), int(spec.max_replicas)
        resource = spec.metrics[0].resource if spec.metrics else None
        target = int(resource.target.average_utilization or 0) if resource else 0
        phase = ["idle"]
        sampler = Sampler(probe, experiment.interval, lambda: phase[0], say)
        # the HPA reads CPU once the pods' first metrics after they became ready are in: start from there
        _wait(lambda: (s := probe.sample(0, "idle")).api_cpu_percent is not None and s.api_replicas == minimum, 180)
        url = release.api_url(api, NAMESPACE, RELEASE)
        with tempfile.TemporaryDirectory(prefix="bf-cluster-load-") as tmp:
            prefix = Path(tmp) / "locust"
            argv = in_netns(
                [
                    sys.executable, "-m", "locust",
                    "-f", str(LOCUSTFILE),
                    "--headless",
                    "--host", url,
                    "--users", str(users),
                    "--spawn-rate", str(spawn_rate),
                    "--run-time", f"{seconds}s",
                    "--stop-timeout", "5",
                    "--catalog", "builtin",
                    "--csv", str(prefix),
                    "--csv-full-history",
                    "--json-file", str(prefix),
                    "--only-summary",
                    "--loglevel", "WARNING",
                ]
            )  # fmt: skip
            say(f"Locust: {users} users (spawn rate {spawn_rate}/s) for {seconds}s against {url}, inside {info.netns}")
            # a baseline of BASELINE seconds at rest, then the load (t = 0 when Locust starts)
            sampler.zero = time.monotonic() + BASELINE
            sampler.start()
            sampler.stopped.wait(BASELINE)
            zero_epoch = time.time()
            phase[0] = "load"
            log = cluster.layout.logs / "locust-cluster-load.log"
            with log.open("wb") as handle:
                locust = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT)
                try:
                    locust.wait(timeout=seconds + 60)
                finally:
                    if locust.poll() is None:
                        locust.kill()
                        locust.wait()
            load_seconds = time.monotonic() - sampler.zero
            phase[0] = "cooldown"
            stats = prefix.with_suffix(".json")
            result = summarize(json.loads(stats.read_text())) if stats.is_file() else None
            points = locust_rps(Path(f"{prefix}_stats_history.csv"), zero_epoch)
            say(
                f"Locust stopped after {load_seconds:.0f}s; waiting (at most {experiment.cooldown}s) "
                "for the HPA to scale down"
            )

            def back_down() -> bool:
                latest = sampler.latest()
                return latest is not None and latest.phase == "cooldown" and latest.api_replicas <= minimum

            _wait(back_down, experiment.cooldown, check=False)
            sampler.stopped.set()
            sampler.join(timeout=30)
        samples = with_rps(sampler.samples, points)
        write_csv(samples, experiment.out.with_suffix(".csv"))
        done = outcome(samples, result, load_seconds, minimum)
        title = (
            f"api HPA on the local cluster: {minimum}-{maximum} replicas at {target}% CPU, {users} Locust users for "
            f"{seconds}s (values/dev.yaml + values/hpa-experiment.yaml)"
        )
        plot(samples, experiment.out.with_suffix(".png"), title, target, maximum)
        say(f"wrote {experiment.out.with_suffix('.csv')} and {experiment.out.with_suffix('.png')}")
        print(done.summary(minimum, maximum), flush=True)
        if write is not None:
            elapsed = time.monotonic() - started
            write(doc_section(done, experiment, (minimum, maximum, target), elapsed, datetime.date.today()))
            say("wrote the summary into docs/local-cluster.md")
        return done
    finally:
        say(f"helm uninstall {RELEASE} -n {NAMESPACE}, and the namespace")
        release.helm(kubeconfig, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "2m", timeout=180)
        core = client.CoreV1Api(api)
        try:
            core.delete_namespace(NAMESPACE, _request_timeout=10)
        except ApiException as exc:
            if exc.status != 404:
                raise
        _wait(lambda: not release.namespace_exists(core, NAMESPACE), 90, check=False)


def _wait(condition: Callable[[], bool], timeout: float, *, check: bool = True) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except UNREACHABLE:
            pass
        time.sleep(2)
    if check:
        raise ClusterError(f"the api HPA had no CPU reading at its minimum after {timeout:.0f}s")
    return False
