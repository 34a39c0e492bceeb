"""`helm test`'s Valkey check (templates/tests/valkey.yaml) run here, its script as the chart renders it, on the
chart's own Valkey nodes (node.sh, a primary and a replica with the chart's users): it passes, and fails when
the reader may write."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bftools.runtime import paths
from tests.chart.conftest import CHART, HELM
from tests.integration.valkey_nodes import PASSWORDS, ValkeyNodes

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("valkey-ha")]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[ValkeyNodes]:
    nodes = ValkeyNodes(tmp_path / "valkey", count=2, sentinel=False)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


def helm_test_script(primary_port: int, replica_port: int) -> str:
    """The test pod's script, its Service and pod names pointed at the local nodes' ports."""
    if not HELM.exists():
        pytest.fail(f"helm is not installed at {HELM}: run scripts/setup helm")
    args = ["template", "bf", str(CHART), "--kube-version", "1.33.0", "--set", "kafka.crdCheck=false"]
    rendered = subprocess.run(
        [str(HELM), *args, "--show-only", "templates/tests/valkey.yaml"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    script: str = yaml.safe_load(rendered)["spec"]["containers"][0]["command"][-1]
    script = script.replace("primary=bf-valkey-primary", "primary=127.0.0.1")
    script = script.replace("replica=bf-valkey-1.bf-valkey-headless.default.svc.cluster.local", "replica=127.0.0.1")
    for name, port in (("primary", primary_port), ("replica", replica_port)):
        for quote in ('"', "'"):
            script = script.replace(f"-h {quote}${name}{quote} -p 6379", f"-h {quote}${name}{quote} -p {port}")
    assert "6379" not in script, "a valkey-cli call the test does not point at the local nodes"
    return script


def run(script: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{paths.valkey_server().parent}:{os.environ['PATH']}",
        # What the pod gets from the Secret: the reader's password, and the monitor's for valkey-cli itself.
        "READER_PASSWORD": PASSWORDS["reader"],
        "REDISCLI_AUTH": PASSWORDS["monitor"],
    }
    return subprocess.run(["sh", "-ec", script], env=env, capture_output=True, text=True, timeout=180, check=False)


def test_the_helm_tests_valkey_check_passes_and_fails_when_the_reader_may_write(pair: ValkeyNodes) -> None:
    script = helm_test_script(pair.nodes[0].port, pair.nodes[1].port)
    done = run(script)
    assert done.returncode == 0, done.stderr
    assert "the reader reads; its writes, FLUSHALL and CONFIG and a client without a login are refused" in done.stdout
    assert "127.0.0.1: role replica" in done.stdout
    with pair.nodes[0].client() as admin:
        admin.acl_setuser("reader", enabled=True, commands=["+set"])  # the ACL loosened: the check must see it
    loosened = run(script)
    assert loosened.returncode == 1
    assert "reader: 'reader set bf:sales:total 0' was not refused: OK" in loosened.stderr
