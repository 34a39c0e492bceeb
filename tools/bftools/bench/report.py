"""The bench's outputs: a table on stdout, CSV and PNG plots in the results folder."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from bftools.bench.measure import STAGES
from bftools.bench.rows import Row


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _cpu(row: Row) -> str:
    shown = sorted(row.cpu.items(), key=lambda item: -item[1])
    return ", ".join(f"{name} {value:.0f}%" for name, value in shown if value >= 1)


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| section | row | sales/s | p50 ms | p95 ms | p99 ms | errors | exactly once | CPU (% of a core) |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        once = "—" if row.exactly_once is None else "yes" if row.exactly_once else "NO"
        lines.append(
            f"| {row.section} | {row.name} | {row.sales_per_s:,.0f} | {_ms(row.p50_ms)} | {_ms(row.p95_ms)} "
            f"| {_ms(row.p99_ms)} | {row.errors} | {once} | {_cpu(row)} |"
        )
    return "\n".join(lines)


def stages_table(rows: Sequence[Row]) -> str:
    """The pipeline's own view of each ingest row: how many sales travel together and what they wait for."""
    lines = [
        "| section | row | sales per api batch | api -> bridge -> writer -> Kafka round trip (ms) "
        "| sales per writer call | writer's wait for Kafka's ack (ms) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row.stages:
            stage = row.stages
            lines.append(
                f"| {row.section} | {row.name} | {stage.get('api_batch', 0):.1f} "
                f"| {stage.get('api_forward_ms', 0):.1f} | {stage.get('writer_batch', 0):.1f} "
                f"| {stage.get('writer_ack_ms', 0):.1f} |"
            )
    return "\n".join(lines)


def write_csv(rows: Sequence[Row], path: Path) -> None:
    names = sorted({name for row in rows for name in row.cpu} | {name for row in rows for name in row.rss_mb})
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["section", "row", "sales_per_s", "p50_ms", "p95_ms", "p99_ms", "errors", "exactly_once", "note"]
            + [f"stage_{k}" for k in STAGES]
            + [f"cpu_{n}" for n in names]
            + [f"rss_mb_{n}" for n in names]
        )
        for row in rows:
            writer.writerow(
                [row.section, row.name, f"{row.sales_per_s:.1f}", row.p50_ms, row.p95_ms, row.p99_ms, row.errors]
                + [row.exactly_once, row.note]
                + [row.stages.get(k, "") for k in STAGES]
                + [row.cpu.get(n, "") for n in names]
                + [row.rss_mb.get(n, "") for n in names]
            )


def _levels(rows: Sequence[Row], section: str) -> tuple[list[int], list[Row]]:
    mine = [r for r in rows if r.section == section and r.name.endswith("connections")]
    return [int(r.name.split()[0]) for r in mine], mine


def plot_ingest(rows: Sequence[Row], path: Path) -> None:
    sections = [s for s in dict.fromkeys(r.section for r in rows) if s.startswith(("ingest", "baseline (a)"))]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for section in sections:
        levels, mine = _levels(rows, section)
        if not mine:
            continue
        style = "--" if section.startswith("baseline") else "-"
        left.plot(levels, [r.sales_per_s for r in mine], style, marker="o", label=section)
        if not section.startswith("baseline"):
            right.plot(levels, [r.p99_ms or 0 for r in mine], marker="o", label=section)
    for axes, label in ((left, "sales (or bare requests) per second"), (right, "p99 latency (ms)")):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("concurrent connections")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    right.axhline(100, color="grey", linewidth=0.8, linestyle=":")
    figure.suptitle("Ingest: the product end to end against the bare HTTP server (2 cores, one machine)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_cpu(rows: Sequence[Row], path: Path) -> None:
    """Where the CPU goes at 64 connections, per process, for each ingest variant."""
    mine = [r for r in rows if r.section.startswith("ingest") and r.name == "64 connections"]
    if not mine:
        return
    names = sorted({n for r in mine for n in r.cpu}, key=lambda n: -max(r.cpu.get(n, 0) for r in mine))
    figure, axes = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / len(mine)
    for index, row in enumerate(mine):
        axes.bar(
            [i + index * width for i in range(len(names))],
            [row.cpu.get(n, 0) for n in names],
            width,
            label=f"{row.section}: {row.sales_per_s:,.0f} sales/s",
        )
    axes.set_xticks([i + width * (len(mine) - 1) / 2 for i in range(len(names))], names)
    axes.set_ylabel("% of one core")
    axes.set_title("CPU per process at 64 connections")
    axes.legend(fontsize=7)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_drain(rows: Sequence[Row], path: Path) -> None:
    mine = [r for r in rows if r.section == "consumer drain"]
    if not mine:
        return
    figure, axes = plt.subplots(figsize=(8, 3.8))
    axes.barh([r.name for r in mine][::-1], [r.sales_per_s for r in mine][::-1], color="#5794f2")
    axes.set_xscale("log")
    axes.set_xlabel("sales applied per second (log scale)")
    axes.set_title("Consumer drain: a pre-filled topic into Valkey, every aggregate, exactly once")
    axes.grid(axis="x", alpha=0.3)
    for label in axes.get_yticklabels():
        label.set_fontsize(7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
