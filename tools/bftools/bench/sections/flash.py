"""Locust's flash-sale shape on the product (`--only flash`): each phase's latency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bftools.bench.measure import Sampler
from bftools.bench.rig import Rig, services
from bftools.bench.rows import Options, Row
from bftools.bench.sections.common import SERVICES, cpu_and_memory, pipeline_pids
from bftools.runtime.paths import ROOT


def flash_sale(rig: Rig, options: Options, results: Path) -> list[Row]:
    """Locust's flash-sale shape on the product: each phase's latency, no errors expected."""
    pipeline = rig.pipeline(rig.topic())
    out = results / "flashsale.json"
    with services(pipeline, list(SERVICES)), tempfile.TemporaryDirectory() as tmp:
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "apps" / "blackfriday" / "loadgen" / "flashsale.py"),
            "--headless",
            "--host",
            pipeline.api_url,
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--json-file",
            str(Path(tmp) / "stats"),
        ]
        env = {
            **os.environ,
            "BF_FLASH_USERS": str(options.flash_users),
            "BF_FLASH_SECONDS": str(options.flash_seconds),
            "BF_FLASH_RESULTS": str(out),
        }
        sampler = Sampler(pipeline_pids(pipeline, rig)).start()
        subprocess.run(argv, env=env, capture_output=True, timeout=options.flash_seconds + 120, check=False)
        usage = sampler.stop()
    cpu, rss = cpu_and_memory(usage, sampler.seconds)
    phases: dict[str, Any] = json.loads(out.read_text())["phases"]
    seconds = options.flash_seconds
    shares = {"warm-up": 0.20, "base": 0.20, "spike": 0.25, "plateau": 0.20, "cool-down": 0.15}
    return [
        Row(
            "flash sale (Locust shape)",
            f"{name} ({'5x ' if name in ('spike', 'plateau') else ''}{options.flash_users} users)",
            phase["requests"] / (shares[name] * seconds),
            phase["p50_ms"],
            phase["p95_ms"],
            phase["p99_ms"],
            phase["failures"],
            cpu if name == "spike" else {},
            rss if name == "spike" else {},
        )
        for name, phase in phases.items()
    ]
