"""Measuring a run: wrk's numbers, and each process's CPU and peak memory from /proc while it runs."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bftools.runtime.paths import MissingTool

HZ: Final = os.sysconf("SC_CLK_TCK")
PAGE: Final = os.sysconf("SC_PAGE_SIZE")

#: wrk's script: a varied sale per request (four categories, fifty products), and its numbers as one JSON
#: line at the end (latency in microseconds).
WRK_SCRIPT: Final = """\
local categories = {"Electronica", "Ropa", "Hogar", "Belleza"}
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"categoria": "%s", "producto_id": "P-%d", "precio": %d.%02d, "cantidad_vendida": %d}',
    categories[(n % 4) + 1], n % 50, 1 + n % 900, n % 100, 1 + n % 5)
  return wrk.format("POST", "/purchase", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"timeout": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise MissingTool("wrk is not installed: run scripts/setup bench")
    return found


@dataclass
class Usage:
    """CPU seconds and peak resident memory of one process over a run."""

    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _children_cpu() -> float:
    """CPU seconds of this process's children that have exited and been reaped. Around a wrk run only wrk
    is reaped (the services are reaped when their row ends), so the difference is wrk's own CPU."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


class Sampler:
    """CPU and peak RSS of named processes between start() and stop(), sampled every ``interval`` s."""

    def __init__(self, pids: Mapping[str, int], interval: float = 0.25) -> None:
        self.pids = dict(pids)
        self.interval = interval
        self.usage = {name: Usage() for name in self.pids}
        self._start: dict[str, int] = {}
        self._exited: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self.started = 0.0
        self.seconds = 0.0

    def add(self, name: str, pid: int) -> None:
        """A process started after start() (wrk): its CPU from now on."""
        self.pids[name] = pid
        self.usage[name] = Usage()
        self._start[name] = self._read(pid)

    def exited(self, name: str, cpu_seconds: float) -> None:
        """A child that exited (and was reaped) before stop(): its CPU, as the kernel accounted it (replaces
        what add() started to measure, which /proc can no longer finish)."""
        self._exited[name] = cpu_seconds

    def _read(self, pid: int) -> int:
        try:
            return _ticks(pid)
        except OSError:
            return 0

    def start(self) -> Sampler:
        self._start = {name: self._read(pid) for name, pid in self.pids.items()}
        self.started = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for name, pid in list(self.pids.items()):
                try:
                    self.usage[name].peak_rss_mb = max(self.usage[name].peak_rss_mb, rss_mb(pid))
                except OSError:
                    continue

    def stop(self) -> dict[str, Usage]:
        self._stop.set()
        self._thread.join()
        self.seconds = time.monotonic() - self.started
        for name, pid in self.pids.items():
            end = self._read(pid)
            if name in self._exited:
                self.usage[name].cpu_seconds = self._exited[name]
            elif end:
                self.usage[name].cpu_seconds = (end - self._start.get(name, end)) / HZ
        return self.usage


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def successes(self) -> int:
        return self.requests - self.non_2xx

    @property
    def rate(self) -> float:
        return self.successes / self.seconds if self.seconds else 0.0


def run_wrk(url: str, connections: int, seconds: float, script: Path, sampler: Sampler | None = None) -> WrkResult:
    """wrk with one thread against ``url`` (127.0.0.1 only), its own CPU added to ``sampler``."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"benchmarks only target 127.0.0.1, not {url}")
    argv = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    children = _children_cpu()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if sampler is not None:
        sampler.add("wrk", process.pid)
    try:
        out, _ = process.communicate(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    if sampler is not None:  # wrk is reaped by now: its CPU from the kernel's account of reaped children
        sampler.exited("wrk", _children_cpu() - children)
    line = next((line for line in out.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (exit {process.returncode}): {out[-500:]}")
    data: dict[str, Any] = json.loads(line[6:])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non_2xx=data["non_2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        p50_ms=data["p50"] / 1000,
        p95_ms=data["p95"] / 1000,
        p99_ms=data["p99"] / 1000,
        max_ms=data["max"] / 1000,
        raw=data,
    )


#: The pipeline's own histograms that say where a sale's time goes (scraped before and after a row).
STAGES: Final = {
    "api_forward_ms": "bf_api_forward_seconds",
    "api_batch": "bf_api_forward_batch_size",
    "writer_ack_ms": "bf_writer_ack_seconds",
    "writer_batch": "bf_writer_batch_size",
}


def _samples(url: str) -> list[Sample]:
    """Every sample a /metrics endpoint serves; RuntimeError if it does not answer (a row cannot be judged)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a local http:// URL
            text = answer.read().decode()
    except OSError as exc:
        raise RuntimeError(f"{url} did not answer: {exc}") from None
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def scrape(url: str) -> dict[str, float]:
    """The ``_sum`` and ``_count`` of every unlabelled histogram a /metrics endpoint serves."""
    return {
        sample.name: float(sample.value)
        for sample in _samples(url)
        if sample.name.endswith(("_sum", "_count")) and not sample.labels
    }


def counter(url: str, name: str, labels: Mapping[str, str]) -> float:
    """One sample of a /metrics endpoint (0 while the service has not counted any)."""
    for sample in _samples(url):
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    return 0.0


def stage_means(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    """Mean of each stage histogram between two scrapes: milliseconds for latencies, sales for batch sizes."""
    means = {}
    for key, metric in STAGES.items():
        count = after.get(f"{metric}_count", 0.0) - before.get(f"{metric}_count", 0.0)
        total = after.get(f"{metric}_sum", 0.0) - before.get(f"{metric}_sum", 0.0)
        if count > 0:
            means[key] = round(total / count * (1000 if key.endswith("_ms") else 1), 2)
    return means
