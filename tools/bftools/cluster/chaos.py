"""`make cluster-chaos` (python -m bftools.cluster chaos): what operators do to a running Black Friday, tried on
the local cluster under a steady load with a per-sale ledger, as `make chaos` does on the local stack.

A release in the namespace bf-chaos (values/dev.yaml, the cluster's values, values/chaos.yaml: two pods of the
api, the bridge and the writer, Valkey with Sentinel; a topic and consumer group of the run's own); the load (at most
12 sales in flight) runs inside the cluster's network namespace against the api Service; then, one row each:
a rollout restart of each Deployment, helm upgrades (a new image tag; a config value), the deletion of a pod of
each service and of the Valkey primary (a replica is promoted), and SIGKILL of the cluster's Kafka broker and
its return. Besides the ledger's columns (bftools.chaos.ledger), each row says how long the dashboard's
figures stood still (the longest time Valkey's count of sales did not move while sales were being stored).

The run fails (exit 1) on any lost or double-counted sale, any answer other than 201 in a row where nothing is
down (rollouts, upgrades, pod deletions, the Valkey primary), 201s back more than 15 s after the broker's
return, or figures that stood still more than 15 s. --short runs the rows make test runs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bftools.chaos.ledger import RECOVERY_LIMIT, Fault, Load, Result, Row, account, unit_counts
from bftools.cluster import broker, kube, operations, release
from bftools.cluster.cluster import Cluster, ClusterInfo
from bftools.cluster.config import ClusterError
from bftools.cluster.operations import Release, Sentinels
from bftools.cluster.shell import in_netns_dns
from bftools.runtime.process import wait_for

NAMESPACE: Final = "bf-chaos"
RELEASE: Final = "bf"
CHAOS_VALUES: Final = release.VALUES / "chaos.yaml"

#: Rows where nothing is down: every sale must be answered 201.
NOTHING_DOWN: Final = ("rollout", "upgrade", "delete", "valkey")
INSIDE: Final = "BF_CLUSTER_CHAOS_INSIDE"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    rate: float = 40.0  # sales offered a second
    concurrency: int = 12  # at most in flight
    settle: float = 8.0  # seconds of steady load before and after each fault
    broker_hold: float = 10.0  # seconds the broker stays dead
    short: bool = False


def faults(plan: Plan) -> list[Fault]:
    if plan.short:
        return [
            Fault("rollout restart bridge", "bridge", "rollout", 0),
            Fault("delete an api pod", "api", "delete", 0),
            Fault("delete the Valkey primary", "valkey", "valkey", 0),
        ]
    rows = [Fault(f"rollout restart {c}", c, "rollout", 0) for c in ("api", "bridge", "writer", "consumer")]
    rows += [
        Fault("helm upgrade: a new image tag", "all", "upgrade", 0),
        Fault("helm upgrade: a config value (api)", "api", "upgrade", 0),
    ]
    rows += [Fault(f"delete a{'n' if c == 'api' else ''} {c} pod", c, "delete", 0) for c in ("api", "bridge", "writer")]
    rows += [
        Fault("delete the consumer pod (its only one)", "consumer", "delete", 0),
        Fault("delete the Valkey primary", "valkey", "valkey", 0),
        Fault("SIGKILL the Kafka broker", "kafka", "broker", plan.broker_hold),
    ]
    return rows


@dataclass
class Stillness:
    """Samples of Valkey's count of sales (every half second) while the run goes: how long it stood still."""

    read: Callable[[], int | None]
    samples: list[tuple[float, int | None]] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Stillness:
        threading.Thread(target=self._run, daemon=True, name="stillness").start()
        return self

    def _run(self) -> None:
        while not self.stopped.wait(0.5):
            self.samples.append((time.monotonic(), self.read()))

    def longest(self, start: float, end: float) -> float:
        """The longest stretch between ``start`` and ``end`` in which the count did not grow, to the sampling's
        half second (infinite when Valkey never answered in it)."""
        longest, since, last = 0.0, start, None
        for t, value in self.samples:
            if t < start or t > end:
                continue
            longest = max(longest, t - since)
            if value is not None and (last is None or value > last):
                since, last = t, value
        return longest if last is not None else float("inf")


@dataclass
class Outcome:
    results: list[Result]
    still: list[float]
    seconds: float

    def row_ok(self, index: int) -> bool:
        result, still = self.results[index], self.still[index]
        ok = result.ok and still <= RECOVERY_LIMIT
        if result.fault.kind in NOTHING_DOWN:
            ok = ok and result.unavailable == 0 and result.other == 0
        return ok

    @property
    def ok(self) -> bool:
        return all(self.row_ok(i) for i in range(len(self.results)))

    def table(self) -> str:
        lines = [
            "| fault | sent | 201 | 503 | no answer | lost | double-counted | 201s back after "
            "| figures stood still | holds |",
            "|" + "---|" * 10,
        ]
        for i, r in enumerate(self.results):
            back = "—" if r.recovery is None else f"{r.recovery:.1f} s" if r.recovered else "never"
            lines.append(
                f"| {r.fault.name} | {r.sent} | {r.created} | {r.unavailable} | {r.other} | {r.lost} | {r.doubled} "
                f"| {back} | {self.still[i]:.1f} s | {'yes' if self.row_ok(i) else 'NO'} |"
            )
        return "\n".join(lines)

    def summary(self, plan: Plan) -> str:
        sent = sum(r.sent for r in self.results)
        bad = [r.fault.name for i, r in enumerate(self.results) if not self.row_ok(i)]
        verdict = "every row holds" if not bad else f"FAILED: {', '.join(bad)}"
        return (
            f"{self.table()}\n\n{sent} sales sent (offered at {plan.rate:g}/s, at most {plan.concurrency} in flight) "
            f"in a run of {self.seconds:.0f} s; {verdict}"
        )


def run(plan: Plan, say: Say) -> Outcome:
    """The matrix on the running local cluster; call it inside the cluster's network namespace (main does)."""
    cluster = Cluster(say=say)
    info = cluster.info()
    if info is None or not cluster.running():
        raise ClusterError("the local cluster is not running: make cluster-up")
    started = time.monotonic()
    with cluster.api() as api:
        target = Release(api, NAMESPACE, RELEASE)
        _remove(info, api, say)  # a run stopped before its clean-up left it
        run_id = uuid.uuid4().hex[:8]
        _install(cluster, info, api, run_id, say)
        try:
            return _matrix(cluster, info, target, plan, run_id, say, started)
        finally:
            _remove(info, api, say, wait=False)


def _remove(info: ClusterInfo, api: client.ApiClient, say: Say, *, wait: bool = True) -> None:
    """The release and its namespace deleted (each step only if it is there); ``wait``: until they are gone
    (before an install; after a run, the pods' graceful ends go on without the operator waiting for them)."""
    core = client.CoreV1Api(api)
    if not release.namespace_exists(core, NAMESPACE):
        return
    say(f"helm uninstall {RELEASE} -n {NAMESPACE}, and the namespace")
    flags = ("--wait", "--timeout", "3m") if wait else ()
    release.helm(info.kubeconfig, "uninstall", RELEASE, "-n", NAMESPACE, *flags, timeout=240)
    with contextlib.suppress(ApiException):
        core.delete_namespace(NAMESPACE, _request_timeout=10)
    if wait:
        kube.wait_until(lambda: not release.namespace_exists(core, NAMESPACE), 180, f"the namespace {NAMESPACE} to go")


def _install(cluster: Cluster, info: ClusterInfo, api: client.ApiClient, run_id: str, say: Say) -> None:
    """The release, on a topic and consumer group of this run's own (the broker keeps earlier runs' sales), with
    the services' Kafka logins in its namespace."""
    broker.create_pipeline(f"chaos-{run_id}", f"chaos-{run_id}", cluster.layout)
    broker.apply_client_secret(api, NAMESPACE, cluster.layout)
    say(f"helm install {RELEASE} -n {NAMESPACE} (values/dev.yaml, the cluster's values, {CHAOS_VALUES.name})")
    mark = time.monotonic()
    args = [
        *release.readme_install(RELEASE, NAMESPACE, info.values_file),
        *("-f", str(CHAOS_VALUES), "--set", f"global.kafka.topic=chaos-{run_id}"),
        *("--set", f"global.kafka.consumerGroup=chaos-{run_id}"),
    ]
    release.helm(info.kubeconfig, "install", *args, "--wait", "--timeout", "5m", timeout=360, check=True)
    say(f"installed and ready in {time.monotonic() - mark:.0f}s")


def _matrix(
    cluster: Cluster, info: ClusterInfo, target: Release, plan: Plan, run_id: str, say: Say, started: float
) -> Outcome:
    sentinels = Sentinels(target, release.valkey_login(target.api, NAMESPACE, RELEASE))
    ip = release.service_ip(target.api, NAMESPACE, f"{RELEASE}-api")
    load = Load(f"http://{ip}:8080", rate=plan.rate, concurrency=plan.concurrency, allowed=(ip,), prefix=f"{run_id}-")
    stillness = Stillness(operations.counted(sentinels)).start()
    rows = [Row(f) for f in faults(plan)]
    try:
        load.start()
        for index, row in enumerate(rows):
            load.row = index
            row.started = time.monotonic()
            time.sleep(plan.settle / 2)  # sales flowing before the fault: a stretch of load, not a wait for a state
            say(f"cluster-chaos: {row.fault.name}")
            row.injected = time.monotonic()
            _inject(cluster, info, target, sentinels, row.fault)
            row.back = time.monotonic()
            say(f"cluster-chaos:   done in {row.back - row.injected:.0f}s")
            time.sleep(plan.settle)  # and after it
            row.ended = time.monotonic()
        load.stop()
        say("cluster-chaos: load stopped; waiting for the consumer to count every stored sale ...")
        created = [e.product for e in load.ledger if e.status == 201]
        with sentinels.client() as valkey_client:
            wait_for(lambda: len(unit_counts(valkey_client, created)) == len(created), 180, interval=2.0)
            counts = unit_counts(valkey_client, [e.product for e in load.ledger])
    finally:
        with contextlib.suppress(Exception):
            load.stop()
        stillness.stopped.set()
    results = account(rows, load.ledger, counts)
    # While the broker is away no sale is stored and the figures rightly stand still: from its return on.
    still = [stillness.longest(row.back if row.fault.kind == "broker" else row.started, row.ended) for row in rows]
    for index, row in enumerate(rows):
        whys = Counter(e.why for e in load.ledger if e.row == index and e.status != 201)
        for why, count in whys.most_common(3):
            say(f"cluster-chaos: {row.fault.name}: {count} answered {why!r}")
    return Outcome(results, still, time.monotonic() - started)


def _inject(cluster: Cluster, info: ClusterInfo, target: Release, sentinels: Sentinels, fault: Fault) -> None:
    if fault.kind == "rollout":
        operations.rollout_restart(target, fault.component)
    elif fault.kind == "delete":
        operations.delete_pod(target, fault.component)
    elif fault.kind == "valkey":
        operations.delete_valkey_primary(target, sentinels)
    elif fault.kind == "broker":
        operations.kill_broker(cluster, fault.hold)
    elif fault.component == "all":  # helm upgrade to a new image tag: every Deployment rolls
        tag = f"{info.app_tag}-chaos{int(time.time())}"
        operations.tag_image(info.app_image, tag)
        _upgrade(info, "--set", f"global.imageTag={tag}")
        operations.wait_rolled_out(target, "api", "bridge", "writer", "consumer")
    else:  # helm upgrade changing a config value: the api's ConfigMap checksum rolls its pods
        _upgrade(info, "--set", f"api.config.FORWARD_BATCH_MAX={90 + int(time.time()) % 10}")
        operations.wait_rolled_out(target, "api")


def _upgrade(info: ClusterInfo, *flags: str) -> None:
    release.helm(info.kubeconfig, "upgrade", RELEASE, str(release.CHART), "-n", NAMESPACE, "--reuse-values", *flags,
                 timeout=120, check=True)  # fmt: skip


def main(plan: Plan, argv: Sequence[str], say: Say, write_doc: Callable[[str], None] | None) -> int:
    """Run the matrix inside the cluster's network namespace: this command again (``argv``), through `ip netns
    exec`, which gives it the cluster's DNS; the cluster is started for the run (and stopped after it) if it
    was not running. The inner run prints the table (and writes it with write_doc)."""
    if os.environ.get(INSIDE) != "1":
        cluster = Cluster(say=say)
        _, already = cluster.up()
        try:
            command = [sys.executable, "-m", "bftools.cluster", *argv]
            return subprocess.run(in_netns_dns(command), env={**os.environ, INSIDE: "1"}, check=False).returncode
        finally:
            if not already:
                say("stopping the cluster this run started")
                cluster.down()
    outcome = run(plan, say)
    text = outcome.summary(plan)
    print(text, flush=True)
    if write_doc is not None:
        write_doc(text)
    return 0 if outcome.ok else 1
