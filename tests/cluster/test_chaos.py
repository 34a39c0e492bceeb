"""`make cluster-chaos --short` on the local cluster: a rollout, a pod deleted and the Valkey primary deleted,
under a steady load from inside the cluster's network namespace, cost no sale and no answer but 201."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kubernetes import client

from bftools.cluster import ClusterInfo
from tests.cluster.releases import room_made

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]


def test_a_rollout_a_lost_pod_and_a_valkey_failover_under_load_cost_no_sale(
    cluster: ClusterInfo, api: client.ApiClient
) -> None:
    room_made(client.CoreV1Api(api))
    done = subprocess.run(
        [sys.executable, "-m", "bftools.cluster", "chaos", "--short"],
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and not line.startswith("| fault")]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [
        "rollout restart bridge",
        "delete an api pod",
        "delete the Valkey primary",
    ]
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        sent, created = int(cells[1]), int(cells[2])
        assert sent > 100
        assert created == sent, row  # every sale answered 201
        assert cells[5:7] == ["0", "0"], row  # none lost, none counted twice
        assert cells[-1] == "yes", row
    assert "every row holds" in done.stdout
