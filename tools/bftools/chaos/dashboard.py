"""The operations dashboard's queries (charts/black-friday/charts/grafana/files/dashboards-prometheus/), run
against a real Prometheus: each must be valid PromQL and return series, as Grafana would show them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bftools.chaos.prometheus import Prometheus
from bftools.runtime.paths import ROOT

DASHBOARD: Final = ROOT / "charts" / "black-friday" / "charts" / "grafana" / "files" / "dashboards-prometheus"
#: What Grafana puts in for its own variables, at a short run's scale.
VARIABLES: Final = {"$__rate_interval": "15s", "$__interval": "5s", "$__range": "1m"}


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str
    series: int  # how many the query returned now
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.series > 0


def queries(folder: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(panel title, expression) of every Prometheus target of the dashboards in ``folder``."""
    found = []
    for path in sorted(folder.glob("*.json")):
        for panel in json.loads(path.read_text()).get("panels", []):
            for target in panel.get("targets", []):
                if "expr" in target:
                    found.append((panel["title"], target["expr"]))
    return found


def dashboard_queries(prometheus: Prometheus) -> list[Panel]:
    panels = []
    for title, expr in queries():
        query = expr
        for variable, value in VARIABLES.items():
            query = query.replace(variable, value)
        try:
            panels.append(Panel(title, expr, len(prometheus.query(query))))
        except ValueError as exc:
            panels.append(Panel(title, expr, 0, str(exc)[:200]))
    return panels


def report(panels: list[Panel]) -> str:
    good = sum(p.ok for p in panels)
    lines = [f"The operations dashboard's {len(panels)} queries on this Prometheus: {good} return series"]
    lines += [f"  NO SERIES: {p.title}: {p.expr} {p.error}" for p in panels if not p.ok]
    return "\n".join(lines)
