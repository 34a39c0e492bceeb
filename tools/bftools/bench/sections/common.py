"""What the sections share: the services, a wrk load row with its CPU and memory, a server that answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bftools.bench.measure import WRK_SCRIPT, Sampler, Usage, run_wrk
from bftools.bench.rig import Rig
from bftools.bench.rows import Row
from bftools.stack.services import Pipeline

SERVICES = ("api", "bridge", "writer", "consumer")


#: The api's count of sales it answered 201 (stored) to.
STORED_201 = {"route": "/purchase", "code": "201"}


def cpu_and_memory(usage: dict[str, Usage], seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    cpu = {name: round(100 * u.cpu_seconds / seconds, 1) for name, u in usage.items()}
    rss = {name: round(u.peak_rss_mb, 1) for name, u in usage.items() if u.peak_rss_mb}
    return cpu, rss


def pipeline_pids(pipeline: Pipeline, rig: Rig) -> dict[str, int]:
    pids = {name: proc.pid for name, proc in pipeline.procs.items()}
    assert rig.kafka.proc is not None
    assert rig.valkey.proc is not None
    pids.update(kafka=rig.kafka.proc.pid, valkey=rig.valkey.proc.pid)
    return pids


def wrk_script(home: Path) -> Path:
    path = home / "sales.lua"
    path.write_text(WRK_SCRIPT)
    return path


def load_row(
    section: str,
    name: str,
    url: str,
    connections: int,
    seconds: float,
    pids: dict[str, int],
    script: Path,
    during: Callable[[], None] | None = None,
) -> Row:
    sampler = Sampler(pids).start()
    if during is not None:
        during()
    result = run_wrk(url, connections, seconds, script, sampler)
    usage = sampler.stop()
    cpu, rss = cpu_and_memory(usage, sampler.seconds)
    return Row(
        section,
        name,
        result.rate,
        result.p50_ms,
        result.p95_ms,
        result.p99_ms,
        result.non_2xx + result.socket_errors,
        cpu,
        rss,
        note=f"{result.successes} sales",
    )


def answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{url}/purchase", timeout=1)  # noqa: S310 - a local http:// URL
    except urllib.error.HTTPError:
        return True  # 405: it serves
    except OSError:
        return False
    return True
