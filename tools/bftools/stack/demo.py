"""`make demo`: a fresh local stack, a bounded Locust run, the dashboard's figures, a clean stop."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bftools.dashboard.snapshot import write_snapshot
from bftools.runtime.process import wait_for
from bftools.stack.loadtest import LocustResult, run_locust
from bftools.stack.stack import Stack
from bftools.stack.valkey import READER, ValkeyServer
from blackfriday.report import build_report, read_figures
from blackfriday.sale import Category


def _report(valkey: ValkeyServer, focus: Category) -> dict[str, Any]:
    with valkey.client(user=READER) as client:
        return build_report(read_figures(client, focus))


def _product(product: dict[str, Any] | None) -> str:
    return "-" if product is None else f"{product['id']} ({product['units']} units)"


def summary(report: dict[str, Any], locust: LocustResult, seconds: int, users: int) -> str:
    counted = report["total_sales"]
    stored = locust.successes
    exact = counted == stored
    lines = [
        f"Locust: {users} users for {seconds}s against the api",
        f"  requests {locust.requests}, failures {locust.failures}, {locust.rps:.1f} req/s, "
        f"latency p50 {locust.p50_ms:.0f} ms, p95 {locust.p95_ms:.0f} ms, p99 {locust.p99_ms:.0f} ms",
        f"  stored (201) {stored}, counted in Valkey {counted}: "
        + ("every stored sale counted exactly once" if exact else "MISMATCH"),
        "",
        "Dashboard figures (make report gives them as JSON)",
        f"  total sales            {counted}",
        f"  highest / lowest price {report['max_price']} / {report['min_price']}",
        f"  best / worst product   {_product(report['best_product'])} / {_product(report['worst_product'])}",
        "",
        f"  {'category':<12} {'sales':>6} {'units':>6} {'avg units':>9} {'avg price':>10}  best / worst",
    ]
    for name, cat in report["categories"].items():
        lines.append(
            f"  {name:<12} {cat['sales']:>6} {cat['units']:>6} {cat['avg_units']:>9.2f} {cat['avg_price']:>10.2f}"
            f"  {_product(cat['best_product'])} / {_product(cat['worst_product'])}"
        )
    focus = report["focus"]
    prices = focus["prices"]
    lines += [
        "",
        f"  focus category {focus['category']}: tracked product {focus['tracked_product']}, "
        f"{len(prices)} prices, last {prices[-5:]}",
    ]
    return "\n".join(lines)


def run_demo(environ: Mapping[str, str], *, seconds: int, users: int, spawn_rate: float, png: Path) -> tuple[int, str]:
    stack = Stack("demo")
    stack.down()  # what an interrupted demo may have left
    ports = stack.up(environ, fresh=True).ports
    valkey = stack.valkey(ports)
    focus = Category.parse((stack.state() or {}).get("settings", {}).get("focus", "Belleza"))
    logs = stack.home / "logs"
    try:
        locust = run_locust(
            f"http://127.0.0.1:{ports['api']}",
            users=users,
            spawn_rate=spawn_rate,
            seconds=seconds,
            catalog=environ.get("BF_CATALOG", "builtin"),
            log=logs / "locust.log",
        )
        # The consumer trails the api by a batch or two: wait until it has counted every stored sale.
        wait_for(lambda: _report(valkey, focus)["total_sales"] >= locust.successes, 60, interval=0.5)
        report = _report(valkey, focus)
        text = summary(report, locust, seconds, users)
        with valkey.client(user=READER) as client:
            write_snapshot(client, png, {"categoria": focus.name, "carnet": environ.get("BF_CARNET", "")})
        text += f"\n\nDashboard snapshot (the Grafana panels drawn from the same queries): {png}"
        exact = report["total_sales"] == locust.successes
        return (0 if exact else 1), text
    finally:
        stack.down()
