"""py-spy on the api during an ingest row, and where its CPU goes by layer (the report's profile)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy on the api for most of the row: the flat profile (function, % of samples) for the report."""
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        str(Path(sys.executable).parent / "py-spy"),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(2, int(seconds) - 2)),
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def flat_profile(raw: Path, top: int = 12) -> list[tuple[str, float]]:
    """Where the api's CPU goes, by layer, from py-spy's raw samples."""
    groups: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        groups[_layer(stack)] = groups.get(_layer(stack), 0) + samples
    ordered = sorted(groups.items(), key=lambda item: -item[1])[:top]
    return [(name, 100 * samples / total) for name, samples in ordered] if total else []


def _layer(stack: str) -> str:
    if "purchase (blackfriday/api/app.py" in stack:
        for marker, name in (
            ("read_body", "the sale: reading the body"),
            ("loads_strict", "the sale: JSON parsing"),
            ("validate_purchase", "the sale: validation"),
            ("new_sale_id", "the sale: its id"),
            ("send_json", "the answer (through the server)"),
            ("forward (", "the sale: handing it to the forwarder"),
        ):
            if marker in stack:
                return name
        return "the sale: the rest of the handler"
    if "Forwarder" in stack or "bridge_client" in stack:
        return "forwarding batches to the bridge"
    if "HttpMetrics" in stack:
        return "request metrics"
    if "/h11/" in stack or "h11." in stack:
        return "Hypercorn: HTTP/1.1 parsing (h11)"
    if "hypercorn" in stack:
        return "Hypercorn: the rest"
    if "granian" in stack:
        return "Granian"
    if "starlette" in stack:
        return "Starlette"
    return "event loop and the rest"
