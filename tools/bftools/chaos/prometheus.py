"""A real Prometheus (built by scripts/setup monitoring) beside a local stack: it scrapes every service and
Valkey's exporter each second and evaluates the chart's own alert rules (rendered by helm, with durations
short enough for faults of a few seconds), so a fault run can say which alerts fired, after how long, and
whether they resolved; and the operations dashboard's queries can be run against it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import yaml

from bftools.runtime.paths import ROOT, MissingTool, monitoring_binary
from bftools.runtime.ports import free_port
from bftools.runtime.process import Proc, spawn, wait_ready

HELM: Final = ROOT / ".cache" / "bin" / "helm"
CHART: Final = ROOT / "charts" / "black-friday"
#: The chart's rules as a fault run needs them: seconds, not minutes (the defaults are for a real sale).
RULE_SETTINGS: Final = {
    "monitoring.prometheusRule.enabled": "true",
    "monitoring.prometheusRule.for": "1s",
    "monitoring.prometheusRule.window": "5s",
    "monitoring.prometheusRule.p99Seconds": "2",  # a fault's waits, not the steady load on shared cores
    "monitoring.prometheusRule.consumerLag": "100",
    "monitoring.prometheusRule.hpaAtMaximum": "false",
    "global.kafka.external.bootstrapServers": "127.0.0.1:9092",  # no Strimzi objects to render
    "global.kafka.external.existingSecret": "kafka-logins",  # named only: nothing but the rules is rendered
}


def render_rules(path: Path, settings: Mapping[str, str] = RULE_SETTINGS) -> Path:
    """The chart's PrometheusRule, rendered by helm with ``settings``, as a Prometheus rule file."""
    flags = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    argv = [str(HELM), "template", "bf", str(CHART), "--show-only", "templates/monitoring/prometheusrule.yaml", *flags]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise MissingTool(f"helm is not installed at {HELM}: run scripts/setup helm") from None
    if done.returncode != 0:
        raise RuntimeError(f"helm could not render the chart's alert rules: {done.stderr.strip()[-300:]}")
    rule = yaml.safe_load(done.stdout)
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


@dataclass(frozen=True)
class Firing:
    """An alert's first stretch of firing in a span (epoch seconds): when it began, and its last moment."""

    first: float
    last: float


def stretches(moments: Sequence[float], step: float = 1.0) -> list[Firing]:
    """Consecutive moments (one ``step`` apart) as stretches."""
    found: list[Firing] = []
    for moment in sorted(moments):
        if found and moment - found[-1].last <= step * 1.5:
            found[-1] = Firing(found[-1].first, moment)
        else:
            found.append(Firing(moment, moment))
    return found


class Prometheus:
    def __init__(self, home: Path, targets: Mapping[str, Sequence[str]]) -> None:
        """``targets``: job -> host:port of its /metrics (the jobs the rules select: api, bridge, ...)."""
        self.home = home
        self.targets = targets
        self.port = free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        self.home.mkdir(parents=True, exist_ok=True)
        rules = render_rules(self.home / "rules.yaml")
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(addresses)}]}
                for job, addresses in self.targets.items()
            ],
        }
        (self.home / "prometheus.yml").write_text(yaml.safe_dump(config))
        binary = str(monitoring_binary("prometheus"))
        self.proc = spawn(
            "prometheus",
            [
                binary,
                f"--config.file={self.home / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            log=self.home / "prometheus.log",
            marker=binary,
        )
        wait_ready(self.proc, self._ready, 60)
        return self

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(20)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result (a vector); ValueError with Prometheus's error for a bad expression."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        if answer.get("status") != "success":
            raise ValueError(f"{expr}: {answer.get('error', json.dumps(answer)[:300])}")
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def firings(self, start: float, end: float) -> dict[str, list[Firing]]:
        """Each alert's stretches of firing between ``start`` and ``end`` (epoch seconds)."""
        answer = httpx.get(
            f"{self.url}/api/v1/query_range",
            params={"query": 'ALERTS{alertstate="firing"}', "start": start, "end": end, "step": "1s"},
            timeout=10,
        ).json()
        moments: dict[str, list[float]] = {}
        for series in answer.get("data", {}).get("result", []):
            moments.setdefault(series["metric"]["alertname"], []).extend(float(t) for t, _ in series["values"])
        return {name: stretches(times) for name, times in moments.items()}

    def wait_scraped(self, timeout: float = 30) -> bool:
        """Until every target has been scraped and is up, and Valkey answers its exporter (valkey_up 1): a
        run whose baseline already fires an alert (an exporter that cannot log in) must not start."""
        deadline = time.monotonic() + timeout
        wanted = sum(len(addresses) for addresses in self.targets.values())
        while time.monotonic() < deadline:
            try:
                if (
                    len(self.query("up == 1")) >= wanted
                    and self.query("valkey_up == 1")
                    and not self.query("valkey_up == 0")
                ):
                    return True
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        return False
