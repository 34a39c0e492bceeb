"""The fault matrix's short form (`make chaos` runs the full one): every fault in turn under load, and not
one sale lost or counted twice, and 201s back within 15 s of each component's return; a real Prometheus
beside it fires the chart's alerts, and the operations dashboard's queries return series from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROWS = [
    "SIGKILL api",
    "SIGKILL bridge",
    "SIGKILL writer",
    "SIGKILL consumer",
    "SIGKILL kafka",
    "SIGKILL valkey",
    "SIGSTOP writer",
    "SIGSTOP kafka",
    "SIGSTOP valkey",
    "CLIENT PAUSE valkey",
    "consumer added, removed",
]


def test_the_short_fault_matrix_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    env = {**os.environ, "BF_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "bftools.chaos", "--short"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    assert [name for name in rows if name != "fault"] == ROWS
    for name in ROWS:
        cells = [cell.strip() for cell in rows[name].split("|")[1:-1]]
        assert int(cells[2]) > 0, f"{name}: no sale stored during the row"
        assert cells[5:7] == ["0", "0"], f"{name}: lost / double-counted {cells[5:7]}"
        assert cells[8] == "0", f"{name}: refused but counted"
        assert cells[10] == "—", f"{name}: took down {cells[10]} as well"
    assert "every row holds: 0 lost, 0 double-counted" in done.stdout
    alerts = {name: [cell.strip() for cell in rows[name].split("|")[1:-1]][11] for name in ROWS}
    # the broker's row lasts long enough for the alerts' short durations whatever the machine's load
    assert "BlackFridayWriterNotAcking after" in alerts["SIGKILL kafka"]  # sales in, no ack out
    assert "BlackFridayApiNotReady after" in alerts["SIGKILL kafka"]  # the api's readiness follows Kafka
    assert "stopped" in alerts["SIGKILL kafka"]  # and they stop once the broker is back
    for name in (row for row in ROWS if "valkey" not in row):  # Valkey down only when it is (its exporter logs in)
        assert "BlackFridayValkeyDown" not in alerts[name], f"{name}: {alerts[name]}"
    assert "The operations dashboard's 8 queries on this Prometheus: 8 return series" in done.stdout
    assert not (tmp_path / "state" / "chaos" / "state.json").exists()  # the stack was stopped
    logs = tmp_path / "state" / "chaos" / "logs"
    for service in ("api", "bridge", "writer", "consumer", "consumer-2"):
        lines = [line for line in (logs / f"{service}.log").read_text().splitlines() if line.strip()]
        assert lines, service
        for line in lines:  # every line a service writes is JSON, through kills and restarts
            assert isinstance(json.loads(line), dict), (service, line)
