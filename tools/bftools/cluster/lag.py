"""`make cluster-lag`: the consumer scaled on Kafka lag by KEDA, on the local cluster.

KEDA installed (bftools.cluster.keda); a release of the chart (values/dev.yaml, the cluster's values,
values/lag-experiment.yaml: lagScaling 1-3 replicas, the consumer's CPU capped) on a topic and consumer group
of the run's own; a burst of sales produced into the topic from the host, faster than one consumer drains
(a flash sale's backlog: the api and the writer are not what is measured here); every few seconds the
group's lag (from Kafka, as KEDA reads it), the consumer's replicas and the replicas KEDA's HPA wants; then
the same until the backlog is drained and the consumer is back at its minimum. Each sale is counted exactly
once (the report's total equals the sales produced). The samples go to docs/cluster-lag.{csv,png}, the
summary between the markers cluster-lag of docs/local-cluster.md (--write-doc); the release is removed.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Final

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bftools.cluster import broker, keda, kube, release
from bftools.cluster.cluster import Cluster, ClusterInfo
from bftools.cluster.config import KAFKA_PARTITIONS, ClusterError
from bftools.runtime.paths import ROOT
from blackfriday.ids import new_sale_id, now_ms
from blackfriday.loadgen.catalog import load_catalog
from blackfriday.sale import Sale, validate_purchase

NAMESPACE: Final = "bf-lag"
RELEASE: Final = "bf"
EXPERIMENT_VALUES: Final = release.VALUES / "lag-experiment.yaml"
DOCS: Final = ROOT / "docs"
#: Seconds sampled at rest before the burst, and after the consumer is back at its minimum.
BASELINE: Final = 10.0
TAIL: Final = 9.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class Experiment:
    """The burst (``sales`` at ``rate`` a second), how long to wait for the drain and the scale-down, how often
    to sample, and where the samples go (``out`` without its suffix: .csv and .png beside each other)."""

    sales: int = 150_000
    rate: int = 10_000
    cooldown: int = 300
    interval: float = 3.0
    out: Path = DOCS / "cluster-lag"


@dataclass(frozen=True)
class Sample:
    """One look, ``t`` seconds after the burst started (negative: before)."""

    t: float
    phase: str  # "idle", "burst" (sales being produced) or "drain" (after the last one)
    produced: int  # sales in the topic so far
    lag: int  # records of the topic the group has not committed yet (what KEDA's Kafka scaler reads)
    replicas: int  # the consumer Deployment's status.replicas
    ready: int  # its ready replicas
    desired: int  # what KEDA's HPA (keda-hpa-<release>-consumer) wants


COLUMNS: Final = [f.name for f in fields(Sample)]


class Probe:
    """Reads the lag from Kafka and the consumer's scaling from the API server."""

    def __init__(self, api: client.ApiClient, topic: str, group: str) -> None:
        self.apps = client.AppsV1Api(api)
        self.autoscaling = client.AutoscalingV2Api(api)
        self.topic = topic
        self.group = group
        self.partitions = [TopicPartition(topic, p) for p in range(KAFKA_PARTITIONS)]
        login = broker.client_config()  # the broker's admin: reads any group's offsets
        self.admin = KafkaAdminClient(**login, client_id="bf-cluster-lag")
        self.ends = KafkaConsumer(**login, client_id="bf-cluster-lag")

    def close(self) -> None:
        self.admin.close()
        self.ends.close()

    def in_topic(self) -> int:
        return sum(self.ends.end_offsets(self.partitions).values())

    def lag(self) -> int:
        ends = self.ends.end_offsets(self.partitions)
        committed = self.admin.list_group_offsets(self.group).get(self.group, {})
        return sum(
            end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
            for tp, end in ends.items()
        )

    def sample(self, t: float, phase: str, produced: int) -> Sample:
        name = f"{RELEASE}-consumer"
        deployment = self.apps.read_namespaced_deployment(name, NAMESPACE, _request_timeout=10)
        try:
            hpa = self.autoscaling.read_namespaced_horizontal_pod_autoscaler(
                f"keda-hpa-{name}", NAMESPACE, _request_timeout=10
            )
            desired = int(hpa.status.desired_replicas or 0) if hpa.status else 0
        except ApiException as exc:
            if exc.status != 404:
                raise
            desired = 0  # KEDA has not made its HPA yet
        status = deployment.status
        return Sample(
            t=round(t, 1),
            phase=phase,
            produced=produced,
            lag=self.lag(),
            replicas=int(status.replicas or 0) if status else 0,
            ready=int(status.ready_replicas or 0) if status else 0,
            desired=desired,
        )


class Burst(threading.Thread):
    """``sales`` distinct sales (the writer's JSON and key) produced into the topic at ``rate`` a second."""

    def __init__(self, topic: str, sales: int, rate: int) -> None:
        super().__init__(daemon=True)
        self.topic = topic
        self.sales = sales
        self.rate = rate
        self.produced = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(7)  # noqa: S311 - load, not security
        catalog = load_catalog()
        producer = KafkaProducer(
            **broker.client_config("writer"), acks="all", linger_ms=20, batch_size=262144, client_id="bf-cluster-lag"
        )
        try:
            started = time.monotonic()
            start_ms = now_ms()
            while self.produced < self.sales:
                due = min(self.sales, int((time.monotonic() - started) * self.rate) + 1)
                while self.produced < due:
                    sale = Sale.accept(
                        validate_purchase(catalog.sample(rng)), new_sale_id(start_ms + self.produced), start_ms
                    )
                    producer.send(self.topic, key=sale.producto_id.encode(), value=sale.to_json())
                    self.produced += 1
                time.sleep(0.05)
            producer.flush(timeout=60)
        except Exception as exc:  # reported by the run
            self.error = exc
        finally:
            producer.close(timeout=10)


@dataclass(frozen=True)
class Outcome:
    samples: list[Sample]
    sales: int
    counted: int
    peak_lag: int
    peak_replicas: int
    scaled_up_after: float | None  # seconds after the burst started until the peak replicas were asked for
    ready_after: float | None  # ... until they were all ready
    drained_after: float | None  # seconds after the burst started until the lag was 0 again
    back_to_min_after: float | None  # seconds after the drain until the consumer was back at its minimum

    @property
    def exact(self) -> bool:
        return self.counted == self.sales

    def summary(self, minimum: int, maximum: int) -> str:
        def after(value: float | None, what: str) -> str:
            return f"{value:.0f}s {what}" if value is not None else f"NOT {what.split(' ', 1)[-1]}"

        lines = [
            f"consumer (KEDA, lag): {minimum} -> {self.peak_replicas} replicas "
            f"({after(self.scaled_up_after, 'after the burst started')}, "
            f"{after(self.ready_after, 'after it all ready')})",
            f"peak lag {self.peak_lag:,} records; drained {after(self.drained_after, 'after the burst started')}; "
            f"back to {minimum} replica(s) {after(self.back_to_min_after, 'after the drain')}",
            f"sales produced {self.sales:,}, counted {self.counted:,}: "
            + ("each exactly once" if self.exact else "NOT each exactly once"),
        ]
        if self.peak_replicas < maximum:
            lines.append(f"the consumer did not reach {maximum} replicas: a bigger burst (--sales, --rate)")
        return "\n".join(lines)


def outcome(samples: list[Sample], sales: int, counted: int, minimum: int) -> Outcome:
    peak = max((s.replicas for s in samples), default=0)
    up = next((s.t for s in samples if s.t >= 0 and s.replicas >= peak and peak > minimum), None)
    ready = next((s.t for s in samples if s.t >= 0 and s.ready >= peak and peak > minimum), None)
    drained = next((s.t for s in samples if s.phase == "drain" and s.lag == 0), None)
    down = (
        next((s.t - drained for s in samples if s.t >= drained and s.replicas <= minimum), None)
        if drained is not None
        else None
    )
    peak_lag = max((s.lag for s in samples), default=0)
    return Outcome(samples, sales, counted, peak_lag, peak, up, ready, drained, down)


def write_csv(samples: Sequence[Sample], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for sample in samples:
            writer.writerow(asdict(sample))
    return path


def read_csv(path: Path) -> list[Sample]:
    with path.open() as handle:
        return [
            Sample(
                t=float(row["t"]),
                phase=row["phase"],
                **{k: int(row[k]) for k in ("produced", "lag", "replicas", "ready", "desired")},
            )
            for row in csv.DictReader(handle)
        ]


def plot(samples: Sequence[Sample], path: Path, title: str, threshold: int, maximum: int) -> Path:
    """Replicas (top) and the lag (bottom) over time, the burst's window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t for s in samples]
    burst = [s.t for s in samples if s.phase == "burst"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[2, 3])
    for axis in (top, bottom):
        if burst:
            axis.axvspan(0, max(burst), color="#f4d9a6", alpha=0.5, lw=0, label="sales produced")
        axis.grid(alpha=0.3)
    top.step(t, [s.replicas for s in samples], where="post", color="#1f5fa8", lw=2.2, label="consumer replicas")
    top.step(t, [s.desired for s in samples], where="post", color="#1f5fa8", lw=1, ls="--", label="KEDA's HPA wants")
    top.step(t, [s.ready for s in samples], where="post", color="#888", lw=1, label="ready")
    top.set_ylim(0, maximum + 0.6)
    top.set_yticks(range(0, maximum + 1))
    top.set_ylabel("replicas")
    top.legend(loc="upper right", fontsize=8)
    top.set_title(title, fontsize=10)
    bottom.plot(t, [s.lag for s in samples], color="#c0392b", lw=2, label="consumer group lag (records)")
    bottom.axhline(threshold, color="#c0392b", ls=":", lw=1.2, label=f"lagThreshold {threshold} per replica")
    bottom.plot(t, [s.produced for s in samples], color="#27ae60", lw=1, label="sales produced")
    bottom.set_ylabel("records")
    bottom.set_xlabel("seconds since the burst started")
    bottom.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def doc_section(done: Outcome, experiment: Experiment, scaling: tuple[int, int, int], date: datetime.date) -> str:
    """What --write-doc puts between the markers cluster-lag of docs/local-cluster.md. ``scaling`` is the
    ScaledObject's (minimum, maximum, lagThreshold)."""
    minimum, maximum, threshold = scaling
    return "\n".join(
        [
            f"Written by `make cluster-lag` on {date.isoformat()}: {experiment.sales:,} sales produced into the "
            f"topic at {experiment.rate:,}/s; KEDA {keda.version()} scales the consumer {minimum}-{maximum} replicas "
            f"at {threshold:,} records of lag per replica; samples every {experiment.interval:g} s in "
            "[cluster-lag.csv](cluster-lag.csv), plotted in [cluster-lag.png](cluster-lag.png).",
            "",
            "```",
            done.summary(minimum, maximum),
            "```",
        ]
    )


def run(experiment: Experiment, say: Say, write: Callable[[str], None] | None = None) -> Outcome:
    """The experiment on the local cluster (started for the run, and stopped after it, if it was not running)."""
    cluster = Cluster(say=say)
    info, already = cluster.up()
    try:
        with cluster.api() as api:
            keda.install(api, cluster.layout, say)
            return _experiment(info, api, experiment, say, write)
    finally:
        if not already:
            say("stopping the cluster this run started")
            cluster.down()


def _experiment(
    info: ClusterInfo, api: client.ApiClient, experiment: Experiment, say: Say, write: Callable[[str], None] | None
) -> Outcome:
    run_id = uuid.uuid4().hex[:8]
    topic, group = f"lag-{run_id}", f"lag-{run_id}"
    broker.create_pipeline(topic, group)  # its topics and the services' ACLs on them
    broker.apply_client_secret(api, NAMESPACE)  # the services' Kafka logins (the cluster's values name it)
    args = [
        *release.readme_install(RELEASE, NAMESPACE, info.values_file),
        *("-f", str(EXPERIMENT_VALUES)),
        *("--set", f"global.kafka.topic={topic}", "--set", f"global.kafka.consumerGroup={group}"),
    ]
    say(f"helm install {RELEASE} -n {NAMESPACE} (values/dev.yaml, the cluster's values, {EXPERIMENT_VALUES.name})")
    mark = time.monotonic()
    release.helm(info.kubeconfig, "install", *args, "--wait", "--timeout", "5m", timeout=360, check=True)
    say(f"installed and ready in {time.monotonic() - mark:.0f}s")
    probe = Probe(api, topic, group)
    try:
        scaled = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "keda.sh", "v1alpha1", NAMESPACE, "scaledobjects", f"{RELEASE}-consumer", _request_timeout=10
        )
        spec = scaled["spec"]  # type: ignore[index]
        minimum, maximum = int(spec["minReplicaCount"]), int(spec["maxReplicaCount"])
        threshold = int(spec["triggers"][0]["metadata"]["lagThreshold"])
        # KEDA made its HPA and the consumer sits at its minimum before the burst
        kube.wait_until(
            lambda: (s := probe.sample(0, "idle", 0)).desired == minimum and s.ready == minimum,
            120,
            "KEDA's HPA for the consumer",
        )
        samples = _sample(probe, experiment, minimum, say)
        say("reading the report: every sale produced must be counted once")
        counted = int(release.report(api, NAMESPACE, RELEASE)["total_sales"])
    finally:
        probe.close()
        _remove(info, api, say)
    write_csv(samples, experiment.out.with_suffix(".csv"))
    done = outcome(samples, experiment.sales, counted, minimum)
    title = (
        f"the consumer scaled by KEDA on its lag: {minimum}-{maximum} replicas at {threshold:,} records per replica\n"
        f"a burst of {experiment.sales:,} sales at up to {experiment.rate:,}/s (values/dev.yaml + "
        "values/lag-experiment.yaml)"
    )
    plot(samples, experiment.out.with_suffix(".png"), title, threshold, maximum)
    say(f"wrote {experiment.out.with_suffix('.csv')} and {experiment.out.with_suffix('.png')}")
    print(done.summary(minimum, maximum), flush=True)
    if write is not None:
        write(doc_section(done, experiment, (minimum, maximum, threshold), datetime.date.today()))
        say("wrote the summary into docs/local-cluster.md")
    return done


def _sample(probe: Probe, experiment: Experiment, minimum: int, say: Say) -> list[Sample]:
    """A baseline at rest, the burst, then the drain until the lag is 0 and the consumer back at its minimum
    (at most experiment.cooldown seconds after the burst)."""
    burst = Burst(probe.topic, experiment.sales, experiment.rate)
    samples: list[Sample] = []
    zero = time.monotonic() + BASELINE
    burst_ended: float | None = None
    settled: float | None = None
    while True:
        now = time.monotonic()
        if now >= zero and not burst.is_alive() and burst_ended is None:
            if burst.produced == 0:
                say(f"producing {experiment.sales:,} sales at {experiment.rate:,}/s into {probe.topic}")
                burst.start()
            else:
                burst_ended = now
                say(f"the burst ended ({burst.produced:,} sales); waiting for the drain and the scale-down")
        if burst.error is not None:
            raise ClusterError(f"producing the burst failed: {burst.error}")
        phase = "idle" if now < zero else "burst" if burst_ended is None else "drain"
        try:
            sample = probe.sample(now - zero, phase, burst.produced)
        except (*kube.UNREACHABLE, KafkaError) as exc:
            say(
                f"t={now - zero:6.0f}s a sample failed ({type(exc).__name__}); the next one in {experiment.interval:g}s"
            )
        else:
            samples.append(sample)
            say(
                f"t={sample.t:6.0f}s {sample.phase:<6} produced {sample.produced:>7,} lag {sample.lag:>7,} "
                f"consumer replicas {sample.replicas} (ready {sample.ready}, KEDA wants {sample.desired})"
            )
            if phase == "drain" and sample.lag == 0 and sample.replicas <= minimum and sample.ready >= minimum:
                settled = settled or now
            if settled is not None and now - settled >= TAIL:
                return samples
        if burst_ended is not None and now - burst_ended > experiment.cooldown:
            say(f"not drained and back at {minimum} replica(s) {experiment.cooldown}s after the burst: stopping")
            return samples
        time.sleep(max(0.0, experiment.interval - (time.monotonic() - now)))


def _remove(info: ClusterInfo, api: client.ApiClient, say: Say) -> None:
    core = client.CoreV1Api(api)
    if not release.namespace_exists(core, NAMESPACE):
        return
    say(f"helm uninstall {RELEASE} -n {NAMESPACE}, and the namespace")
    release.helm(info.kubeconfig, "uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "3m", timeout=240)
    with contextlib.suppress(ApiException):
        core.delete_namespace(NAMESPACE, _request_timeout=10)
    kube.wait_until(lambda: not release.namespace_exists(core, NAMESPACE), 180, f"the namespace {NAMESPACE} to go")
