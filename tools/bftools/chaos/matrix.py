"""`make chaos`: faults injected one after another into a local stack under continuous, bounded load, each
row accounted by the client-side ledger (bftools.chaos.ledger: sent, 201, 503, other, lost, double-counted,
recovery).

The run fails (exit 1) on any lost, double-counted or refused-but-counted sale, or a recovery over 15 s.
Traffic goes only to 127.0.0.1; the run is bounded (the rows, their hold times, the rate).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bftools.chaos import diagnosis
from bftools.chaos.dashboard import Panel, dashboard_queries
from bftools.chaos.ledger import Fault, Load, Result, Row, account, table, unit_counts
from bftools.chaos.prometheus import Prometheus
from bftools.runtime.docs import write_section
from bftools.runtime.ports import free_port
from bftools.runtime.process import NotReady, Proc, die_with_this_process, spawn, wait_for
from bftools.stack.kafka import GROUP, SALES_TOPIC
from bftools.stack.services import Pipeline
from bftools.stack.stack import Stack
from bftools.stack.valkey import MONITOR, READER


def faults(hold: float, broker_hold: float) -> list[Fault]:
    """The matrix. ``broker_hold`` outlasts the writer's delivery timeout (5 s): the batches in flight
    expire in the producer, the case that once left the writer stuck for good."""
    rows = [Fault(f"SIGKILL {name}", name, "kill", hold) for name in ("api", "bridge", "writer", "consumer")]
    rows += [
        Fault("SIGKILL kafka", "kafka", "kill", broker_hold),
        Fault("SIGKILL valkey", "valkey", "kill", hold),
        Fault("SIGSTOP writer", "writer", "stop", broker_hold),
        Fault("SIGSTOP kafka", "kafka", "stop", broker_hold),
        Fault("SIGSTOP valkey", "valkey", "stop", hold),
        Fault("CLIENT PAUSE valkey", "valkey", "pause", hold),
        Fault("consumer added, removed", "consumer-2", "scale", hold),
    ]
    return rows


class Chaos:
    def __init__(self, stack: Stack, environ: Mapping[str, str], say: Callable[[str], None]) -> None:
        self.stack = stack
        self.environ = environ
        self.say = say
        self.extra: list[Proc] = []
        #: The operations dashboard's queries, run on the run's Prometheus at its end.
        self.dashboard: list[Panel] = []

    def _procs(self) -> dict[str, Proc]:
        return self.stack.procs()

    def _restart(self, row: Row) -> None:
        """`make up`'s heal: start again what is not running, on its ports. Whatever it had to start besides
        the row's own victim died of the fault: the row records it (and fails)."""
        restarted = self.stack.up(self.environ).restarted
        row.collateral += [name for name in restarted if name != row.fault.component and name not in row.collateral]

    def check_survivors(self, row: Row) -> None:
        """After the row: every component must still be running; any that is not is recorded and started."""
        if any(not proc.alive() for proc in self._procs().values()):
            self._restart(row)

    def inject(self, row: Row, pipeline: Pipeline) -> None:
        fault = row.fault
        row.injected = time.monotonic()
        if fault.kind == "kill":
            proc = self._procs()[fault.component]
            proc.signal(signal.SIGKILL)
            wait_for(lambda: not proc.alive(), 10)
            time.sleep(fault.hold)  # the outage itself: nothing to poll for
            self._restart(row)
        elif fault.kind == "stop":
            proc = self._procs()[fault.component]
            proc.signal(signal.SIGSTOP)
            try:
                time.sleep(fault.hold)
            finally:
                proc.signal(signal.SIGCONT)
        elif fault.kind == "pause":
            admin = self.stack.valkey(self.stack.state()["ports"])  # type: ignore[index]
            with admin.client() as client:  # CLIENT PAUSE: the admin's
                client.execute_command("CLIENT", "PAUSE", int(fault.hold * 1000), "ALL")
            time.sleep(fault.hold)  # the pause itself
        else:  # scale: a second consumer joins the group, then leaves it
            proc = pipeline.start("consumer-2", wait=True)
            self.extra.append(proc)
            time.sleep(fault.hold)
            proc.stop(timeout=30)
        row.back = time.monotonic()


def run(
    environ: Mapping[str, str],
    *,
    hold: float,
    broker_hold: float,
    settle: float,
    rate: float,
    say: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
) -> tuple[int, list[Result], list[Panel]]:
    """Run the matrix on a fresh stack of its own (free ports), with a Prometheus beside it, and stop it;
    (exit code, the rows' results, the operations dashboard's queries run at the end). A run that loses or
    double-counts a sale first ``warn``s where the stack stood (bftools.chaos.diagnosis)."""
    env = {
        **environ,
        "BF_API_PORT": str(free_port()),
        "BF_VALKEY_PORT": str(free_port()),
        "BF_KAFKA_PORT": str(free_port()),
    }
    die_with_this_process()  # the chaos stack is this run's own: it never outlives it
    stack = Stack("chaos")
    stack.down()
    chaos = Chaos(stack, env, say)
    say("chaos: starting a fresh local stack on free ports ...")
    ports = stack.up(env, fresh=True).ports
    load = Load(f"http://127.0.0.1:{ports['api']}", rate=rate, concurrency=32)
    rows = [Row(f) for f in faults(hold, broker_hold)]
    prometheus: Prometheus | None = None
    try:
        prometheus = _watch(stack, ports, chaos, say)
        pipeline = stack.pipeline()
        load.start()
        for index, row in enumerate(rows):
            load.row = index
            row.started = time.monotonic()
            time.sleep(settle / 2)  # sales flowing before the fault: a stretch of load, not a wait for a state
            say(f"chaos: {row.fault.name} (hold {row.fault.hold:g} s)")
            chaos.inject(row, pipeline)
            time.sleep(settle)  # and after it
            chaos.check_survivors(row)
            row.ended = time.monotonic()
        load.stop()
        say("chaos: load stopped; waiting for the consumer to count every stored sale ...")
        with stack.valkey(ports).client(user=READER) as client:
            created = [e.product for e in load.ledger if e.status == 201]
            wait_for(lambda: len(unit_counts(client, created)) == len(created), 120, interval=1.0)
            counts = unit_counts(client, [e.product for e in load.ledger])
        results = account(rows, load.ledger, counts)
        if not all(r.ok for r in results):
            _diagnose(stack, ports, chaos, warn)
        if prometheus is not None:
            _alerts(prometheus, rows, results)
            chaos.dashboard = dashboard_queries(prometheus)
    finally:
        with contextlib.suppress(Exception):
            load.stop()
        if prometheus is not None:
            prometheus.stop()
        for proc in chaos.extra:
            proc.stop(timeout=10)
        stack.down()
    ok = all(r.ok for r in results) and all(p.ok for p in chaos.dashboard)
    return (0 if ok else 1), results, chaos.dashboard


def _watch(stack: Stack, ports: Mapping[str, int], chaos: Chaos, say: Callable[[str], None]) -> Prometheus:
    """Valkey's exporter and a real Prometheus scraping the stack each second with the chart's alert rules."""
    exporter_port = free_port()
    exporter = spawn(
        "valkey-exporter",
        [sys.executable, "-m", "blackfriday.valkeyexporter.main"],
        log=stack.home / "logs" / "valkey-exporter.log",
        env={
            **os.environ,
            "VALKEY_ADDRS": f"127.0.0.1:{ports['valkey']}",
            "METRICS_HOST": "127.0.0.1",
            "METRICS_PORT": str(exporter_port),
            "SCRAPE_TIMEOUT_SECONDS": "0.5",
            **stack.valkey(ports).logins()[MONITOR].env(),  # as on the cluster: the monitor user
        },
        marker="blackfriday.valkeyexporter.main",
    )
    chaos.extra.append(exporter)
    targets = {
        "api": [f"127.0.0.1:{ports['api']}"],
        "bridge": [f"127.0.0.1:{ports['bridge']}"],
        "writer": [f"127.0.0.1:{ports['writer_metrics']}"],
        "consumer": [f"127.0.0.1:{ports['consumer_metrics']}"],
        "valkey-exporter": [f"127.0.0.1:{exporter_port}"],
    }
    say("chaos: a Prometheus scrapes the stack each second and evaluates the chart's alerts")
    prometheus = Prometheus(stack.home / "prometheus", targets).start()
    if not prometheus.wait_scraped():
        raise NotReady(
            "Prometheus did not see every target up and Valkey answering its exporter; see "
            f"{prometheus.home / 'prometheus.log'} and {stack.home / 'logs' / 'valkey-exporter.log'}"
        )
    return prometheus


def _diagnose(stack: Stack, ports: Mapping[str, int], chaos: Chaos, warn: Callable[[str], None]) -> None:
    """Where the partitions and the group stand, and the consumers' group history (the stack still runs)."""
    warn("chaos: rows failed; where the stack stands now:")
    broker = stack.kafka(ports)
    try:
        with stack.valkey(ports).client(user=READER) as reader:
            lines = diagnosis.partitions(broker.client_config(), reader, SALES_TOPIC, GROUP, broker.partitions)
    except Exception as exc:  # a diagnosis that fails must not hide the table it explains
        lines = [f"  (cannot read the partitions: {type(exc).__name__}: {exc})"]
    for line in lines:
        warn(line)
    for proc in [stack.procs().get("consumer"), *chaos.extra]:
        if proc is not None and proc.name.startswith("consumer"):
            warn(f"{proc.name}'s group history and warnings ({proc.log}):")
            for line in diagnosis.history(proc.log):
                warn(f"  {line}")


def _epoch(moment: float) -> float:
    """A monotonic moment as epoch seconds (Prometheus's clock)."""
    return time.time() - (time.monotonic() - moment)


def _alerts(prometheus: Prometheus, rows: Sequence[Row], results: Sequence[Result]) -> None:
    """Each row's alerts: those that began to fire between the fault and the row's end, how long after the
    fault, and how long after the component was back they stopped (looking until the next fault)."""
    for index, (row, result) in enumerate(zip(rows, results, strict=True)):
        injected, back, ended = _epoch(row.injected), _epoch(row.back), _epoch(row.ended)
        until = _epoch(rows[index + 1].injected) if index + 1 < len(rows) else time.time()
        for name, stretches in sorted(prometheus.firings(injected, until).items()):
            mine = [s for s in stretches if injected <= s.first <= ended]
            if not mine:
                continue  # firing since an earlier row, or from after this one
            firing = mine[0]
            stopped = (
                f"stopped {max(0.0, firing.last + 1 - back):.0f} s after the recovery"
                if firing.last + 1.5 < until
                else "still firing at the next fault"
            )
            result.alerts.append(f"{name} after {firing.first - injected:.0f} s, {stopped}")


def write_doc(doc: Path, text: str) -> None:
    """Replace the table between the chaos markers of docs/reliability.md."""
    write_section(doc, "chaos", text)


def summary(results: Sequence[Result], seconds: float, rate: float) -> str:
    sent = sum(r.sent for r in results)
    bad = [r.fault.name for r in results if not r.ok]
    verdict = "every row holds: 0 lost, 0 double-counted" if not bad else f"FAILED: {', '.join(bad)}"
    return f"{table(results)}\n\n{sent} sales sent (offered at {rate:g}/s) in a run of {seconds:.0f} s; {verdict}"
