"""docs/performance.md and docs/scaling.md, written from a run of `make bench` (every number is the run's)."""

from __future__ import annotations

import math
import os
import platform
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bftools.bench import report
from bftools.bench.rows import Row, peak_memory
from bftools.runtime.paths import ROOT

IMAGES = ("ingest.png", "cpu.png", "drain.png")
#: CPU limit (cores) of each service's pod in values/prod.yaml's spirit: what one replica may use.
POD_CORES = 1.0
#: Utilisation to plan replicas at (the HPA's target leaves room for spikes).
PLAN_UTILISATION = 0.7


def _find(rows: Sequence[Row], section: str, name: str) -> Row | None:
    return next((r for r in rows if r.section == section and r.name == name), None)


def _rate(row: Row | None) -> float:
    return row.sales_per_s if row else float("nan")


@dataclass(frozen=True)
class Machine:
    """What the run was measured on (kept in results.json, so documents written again describe it)."""

    description: str
    cores: int

    @classmethod
    def here(cls) -> Machine:
        model = "unknown CPU"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        cores = os.cpu_count() or 1
        return cls(f"{cores} cores ({model}), Linux {platform.release()}, Python {platform.python_version()}", cores)


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _times(value: float, base: float, spec: str) -> str:
    """``value`` as a multiple of ``base`` ("12 ×"; "∞ ×" over a base the run measured as 0)."""
    return f"{value / base:{spec}} ×" if base > 0 else "∞ ×"


def targets(rows: Sequence[Row]) -> tuple[list[str], dict[str, float]]:
    hyper = _find(rows, "ingest (hypercorn)", "64 connections")
    granian = _find(rows, "ingest (granian)", "64 connections")
    bare = _find(rows, "baseline (a) bare hypercorn", "64 connections")
    seed_chain = _find(rows, "baseline (b) seed-style chain", "64 connections")
    drain = _find(rows, "consumer drain", "1 consumer, 3 partitions, AOF always (the product)")
    seed_drain = _find(rows, "consumer drain", "seed-style consumer (a dozen round trips per sale)")
    store = _find(rows, "consumer drain", "the store's limit: the Lua script with no Kafka (batches of 500)")
    spike = next((r for r in rows if r.section.startswith("flash") and r.name.startswith("spike")), None)
    memory = peak_memory([r for r in rows if r.section.startswith("ingest")])
    services = {k: v for k, v in memory.items() if k in ("api", "bridge", "writer", "consumer")}
    numbers = {
        "hyper": _rate(hyper),
        "hyper_p99": (hyper.p99_ms or math.nan) if hyper else math.nan,
        "granian": _rate(granian),
        "granian_p99": (granian.p99_ms or math.nan) if granian else math.nan,
        "bare": _rate(bare),
        "bare_granian": _rate(_find(rows, "baseline (a) bare granian", "64 connections")),
        "seed_chain": _rate(seed_chain),
        "drain": _rate(drain),
        "seed_drain": _rate(seed_drain),
        "store": _rate(store),
        "rss": max(services.values(), default=math.nan),
    }
    best = max(numbers["hyper"], numbers["granian"])
    best_p99 = numbers["hyper_p99"] if numbers["hyper"] >= numbers["granian"] else numbers["granian_p99"]
    lines = [
        "| target | measured | |",
        "|---|---|---|",
        f"| end to end at 64 connections ≥ 3,000 sales/s with p99 ≤ 100 ms "
        f"| Hypercorn {numbers['hyper']:,.0f}/s (p99 {numbers['hyper_p99']:.0f} ms); "
        f"Granian {numbers['granian']:,.0f}/s (p99 {numbers['granian_p99']:.0f} ms) "
        f"| {_verdict(best >= 3000 and best_p99 <= 100)} |",
        f"| ≥ 0.7 × the bare Hypercorn endpoint (a) ({numbers['bare']:,.0f} requests/s) | Hypercorn (the default) "
        f"{numbers['hyper'] / numbers['bare']:.2f} ×; Granian (`HTTP_SERVER=granian`) "
        f"{numbers['granian'] / numbers['bare']:.2f} × (against its own bare server "
        f"{numbers['granian'] / numbers['bare_granian']:.2f} ×) "
        f"| {_verdict(numbers['hyper'] / numbers['bare'] >= 0.7)} with Hypercorn; Granian against (a) as "
        f"written: {'≥' if numbers['granian'] / numbers['bare'] >= 0.7 else '<'} 0.7, against its own bare server: "
        f"{'≥' if numbers['granian'] / numbers['bare_granian'] >= 0.7 else '<'} 0.7 |",
        f"| moonshot: ≥ the seed's compiled middle path (≈ 5,000/s) | {best:,.0f}/s | {_verdict(best >= 5000)} |",
        f"| against the seed-style chain (b) | {_times(best, numbers['seed_chain'], '.1f')} "
        f"its {numbers['seed_chain']:,.0f}/s | |",
        f"| consumer drain ≥ 20 × the seed-style consumer | {numbers['drain']:,.0f}/s = "
        f"{_times(numbers['drain'], numbers['seed_drain'], '.0f')} its {numbers['seed_drain']:,.0f}/s "
        f"| {_verdict(numbers['drain'] >= 20 * numbers['seed_drain'])} |",
        f"| consumer drain ≥ 0.5 × the store's limit ({numbers['store']:,.0f}/s) | "
        f"{numbers['drain'] / numbers['store']:.2f} × | {_verdict(numbers['drain'] >= 0.5 * numbers['store'])} |",
        f"| every Python service ≤ 100 MiB RSS under load | highest: {numbers['rss']:.0f} MiB "
        f"({', '.join(f'{k} {v:.0f}' for k, v in sorted(services.items()))}) | {_verdict(numbers['rss'] <= 100)} |",
    ]
    if spike is not None:
        lines.append(
            f"| flash sale: p99 ≤ 250 ms at the spike, no errors | p99 {spike.p99_ms or 0:.0f} ms, "
            f"{spike.errors} errors | {_verdict((spike.p99_ms or 0) <= 250 and spike.errors == 0)} |"
        )
    return lines, numbers


def analysis(rows: Sequence[Row], profile: dict[str, list[tuple[str, float]]], cores: int) -> list[str]:
    """Where the time goes, in words, from the run's own numbers: what fills the cores, what the sales wait
    for, and the per-sale CPU that bounds what these cores can carry."""
    lines: list[str] = []
    for server in ("hypercorn", "granian"):
        row = _find(rows, f"ingest ({server})", "64 connections")
        bare = _find(rows, f"baseline (a) bare {server}", "64 connections")
        if row is None or not row.sales_per_s:
            continue
        busy = sum(v for k, v in row.cpu.items() if k != "wrk")
        per_sale = {k: 10 * v / row.sales_per_s for k, v in row.cpu.items() if k != "wrk"}
        total = sum(per_sale.values())
        top = max(per_sale, key=lambda k: per_sale[k])
        stage = row.stages
        lines.append(
            f"- **{server.capitalize()}, 64 connections: {row.sales_per_s:,.0f} sales/s.** The pipeline's processes "
            f"used {busy:.0f} % of a core between them (wrk {row.cpu.get('wrk', 0):.0f} % more), of the "
            f"{100 * cores} % the machine has. Every sale cost {total:.2f} core-ms over all of them: the api "
            f"{per_sale.get('api', 0):.2f}, the bridge {per_sale.get('bridge', 0):.2f}, the writer "
            f"{per_sale.get('writer', 0):.2f}, Kafka {per_sale.get('kafka', 0):.2f}, the consumer "
            f"{per_sale.get('consumer', 0):.2f}, Valkey {per_sale.get('valkey', 0):.2f}; the most, {top}. "
            f"At this per-sale cost the {cores} cores could carry about {1000 * cores / total:,.0f} sales/s with "
            "nothing else running and no waiting; the cost falls as batches grow with the load (compare the 256 "
            "connections row), and only a lower cost per sale lifts that bound on these cores."
        )
        if stage:
            lines.append(
                f"  The api sent batches of {stage.get('api_batch', 0):.0f} sales and each waited "
                f"{stage.get('api_forward_ms', 0):.1f} ms for its round trip through the bridge and the writer to "
                f"Kafka's acknowledgement, of which {stage.get('writer_ack_ms', 0):.1f} ms inside the writer "
                f"(batches of {stage.get('writer_batch', 0):.0f}, acks=all); the rest is the two hops and the "
                "queues of processes sharing the cores."
            )
        if bare is not None and bare.sales_per_s:
            bare_cost = 10 * bare.cpu.get("server", 0) / bare.sales_per_s
            lines.append(
                f"  The bare {server.capitalize()} endpoint (baseline a) answered {bare.sales_per_s:,.0f} requests/s "
                f"at {bare_cost:.2f} core-ms each: the HTTP server and JSON alone are "
                f"{bare_cost / max(per_sale.get('api', 0), 1e-9):.0%} of the api's per-sale cost, and the "
                f"api ({per_sale.get('api', 0):.2f}) and the bridge ({per_sale.get('bridge', 0):.2f}) each pay "
                "one HTTP request per sale or per batch on top."
            )
    for name, layers in profile.items():
        http = sum(
            share for layer, share in layers if layer.startswith(("Hypercorn", "Granian", "Starlette", "the answer"))
        )
        sale = sum(share for layer, share in layers if layer.startswith("the sale"))
        native = (
            " (Granian parses HTTP and writes answers in Rust, which py-spy's Python stacks do not show)"
            if "granian" in name
            else ""
        )
        lines.append(
            f"- **py-spy on the api ({name.removeprefix('api-')})**: the HTTP server and Starlette (parsing "
            f"requests, writing answers) {http:.0f} % of the Python samples, the handler's own work on the sale "
            f"(reading its body, parsing, validating, its id, handing it on) {sale:.0f} %, the rest the event "
            f"loop, forwarding batches and metrics{native}."
        )
    return lines


def per_sale_cpu(rows: Sequence[Row]) -> dict[str, float]:
    """Core-milliseconds per sale of each process, from the ingest rows at 64 connections (both servers)."""
    costs: dict[str, list[float]] = {}
    for row in rows:
        if row.section.startswith("ingest") and row.name == "64 connections" and row.sales_per_s:
            for name, percent in row.cpu.items():
                if name == "wrk":  # the load generator, not a part of the pipeline
                    continue
                key = f"{name} ({row.section.split('(')[1].rstrip(')')})" if name in ("api", "bridge") else name
                costs.setdefault(key, []).append(10 * percent / row.sales_per_s)  # % of a core -> ms per sale
    return {name: sum(values) / len(values) for name, values in costs.items()}


def scaling(rows: Sequence[Row], machine: Machine) -> str:
    costs = per_sale_cpu(rows)
    store = _rate(_find(rows, "consumer drain", "the store's limit: the Lua script with no Kafka (batches of 500)"))
    drain1 = _rate(_find(rows, "consumer drain", "1 consumer, 3 partitions, AOF always (the product)"))
    drain2 = _rate(_find(rows, "consumer drain", "2 consumers, 3 partitions"))
    one_partition = _rate(_find(rows, "consumer drain", "2 consumers, 1 partition (one idles)"))
    writers2 = _find(rows, "comparisons", "2 writers (64 connections)")
    prod = yaml.safe_load((ROOT / "values" / "prod.yaml").read_text())
    prod_partitions = int(prod["kafka"]["topic"]["partitions"])
    hyper = _find(rows, "ingest (hypercorn)", "64 connections")
    lines = [
        "# Scaling on paper: replicas for a sales rate",
        "",
        "<!-- Written by `make bench` from its run; every number below is that run's. -->",
        "",
        f"Measured on {machine.description}, every component on the same cores. Each service's CPU per sale is its CPU "
        "over an ingest run divided by the sales stored in it (64 connections), so it includes its share of "
        "batching at that load (for the services the HTTP server does not change, the mean of the two servers' "
        "runs). A pod gets "
        f"{POD_CORES:g} core and is planned at {PLAN_UTILISATION:.0%} of it (the HPA's headroom).",
        "",
        "| process | CPU per sale (core-ms) | sales/s one replica takes "
        "| replicas for 1,000 / 5,000 / 20,000 sales/s |",
        "|---|---:|---:|---|",
    ]
    for name, cost in sorted(costs.items(), key=lambda item: -item[1]):
        if cost <= 0:
            continue
        per_replica = PLAN_UTILISATION * POD_CORES * 1000 / cost
        needs = " / ".join(str(max(1, math.ceil(rate / per_replica))) for rate in (1000, 5000, 20000))
        lines.append(f"| {name} | {cost:.3f} | {per_replica:,.0f} | {needs} |")
    lines += [
        "",
        "## Where it stops",
        "",
        f"- **The Valkey primary executes every batch's script**: one thread, {store:,.0f} sales/s measured with no "
        f"Kafka at all (batches of 500). Consumers beyond what the primary executes add nothing: with one consumer "
        f"the drain ran at {drain1:,.0f}/s, with two at {drain2:,.0f}/s. Past that rate the aggregates need "
        "sharding (a Valkey per category, or per group of products), which this design does not do.",
        f"- **Partitions bound the consumers**: a partition is read by one consumer of the group; with one partition a "
        f"second consumer idles (measured {one_partition:,.0f}/s with two). The chart's topic has "
        f"{prod_partitions} partitions in values/prod.yaml: up to {prod_partitions} consumers.",
        "- **The writers** scale behind the bridge's gRPC channel, which balances calls over every writer pod "
        "(a headless Service); Kafka's partitions spread the writes over the brokers.",
        "- **The api and the bridge** are stateless: replicas behind a Service; the HPA scales them on CPU.",
        "",
        "## Checked against a 2-replica measurement",
        "",
    ]
    if writers2 and hyper and "writer" in costs:
        one = hyper.cpu.get("writer", 0)
        two = writers2.cpu.get("writer", 0) + writers2.cpu.get("writer-2", 0)
        cost_one = 10 * one / max(hyper.sales_per_s, 1)
        cost_two = 10 * two / max(writers2.sales_per_s, 1)
        change = f" ({cost_two / cost_one - 1:+.0%})" if cost_one > 0 else ""
        lines.append(
            f"Two writers behind one bridge stored {writers2.sales_per_s:,.0f} sales/s against "
            f"{hyper.sales_per_s:,.0f}/s with one (both with Hypercorn), using {two:.0f} % of a core between them "
            f"against {one:.0f} % for one: {cost_two:.3f} core-ms per sale against {cost_one:.3f}{change}. The "
            "paper model counts one writer's cost per sale for every replica; on one 2-core machine a second "
            "writer cannot add cores, and the rate stays set by the api, which the table above scales."
        )
    lines.append(
        f"Two consumers drained {drain2:,.0f} sales/s against {drain1:,.0f}/s for one, on the same Valkey primary: "
        "the store, not the consumer, sets the drain rate, as predicted above."
    )
    return "\n".join(lines) + "\n"


def write(
    rows: Sequence[Row],
    profile: dict[str, list[tuple[str, float]]],
    seconds: float,
    results: Path,
    folder: Path,
    machine: Machine,
) -> list[Path]:
    """performance.md, scaling.md and the plots (in bench/) into ``folder`` (the repository's docs/)."""
    images = folder / "bench"
    images.mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        if (results / name).exists():
            shutil.copy(results / name, images / name)
    target_lines, numbers = targets(rows)
    memory = peak_memory(rows)
    lines = [
        "# Performance",
        "",
        "<!-- Written by `make bench` (tools/bftools/bench/docs.py) from its latest run; every number is that run's. "
        "-->",
        "",
        f"Measured with `make bench` on {machine.description}: every component (Kafka, Valkey, the four "
        "services, the load generator) on the same cores, traffic on 127.0.0.1 only. "
        f"The run took {seconds / 60:.1f} minutes. Loads "
        "are wrk (one thread, a varied sale per request), Kafka's own producer tool, and Locust for the flash "
        "sale; each row's CPU is per process, in % of one core. The seed is the Rust/Go implementation this "
        "project re-implements ([README](../README.md)): the seed-style rows re-create its chain and consumer here.",
        "",
        "## Targets",
        "",
        *target_lines,
        "",
        "## Ingest",
        "",
        "![throughput and p99 against connections](bench/ingest.png)",
        "",
        "![CPU per process at 64 connections](bench/cpu.png)",
        "",
        "## Where the api's time goes (py-spy, 64 connections)",
        "",
    ]
    for name, layers in profile.items():
        lines.append(f"- **{name}**: " + "; ".join(f"{layer} {share:.0f} %" for layer, share in layers))
    lines += [
        "",
        "## Where the time goes",
        "",
        *analysis(rows, profile, machine.cores),
        "",
        "What each ingest row's sales waited for, from the services' own histograms (means over the row):",
        "",
        report.stages_table(rows),
        "",
        "## Every row",
        "",
        report.table(rows),
        "",
        "Peak RSS over the run: " + ", ".join(f"{n} {v:.0f} MiB" for n, v in sorted(memory.items())) + ".",
        "",
        "## Consumer drain",
        "",
        "![drain rates](bench/drain.png)",
        "",
        "Scaling on paper, from these numbers: [scaling.md](scaling.md).",
    ]
    performance = folder / "performance.md"
    performance.write_text("\n".join(lines) + "\n")
    scale = folder / "scaling.md"
    scale.write_text(scaling(rows, machine))
    del numbers
    return [performance, scale]
