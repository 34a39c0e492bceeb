"""The README's release on a real API server, with the real helm and the kubernetes client: installed as the
README says (values/dev.yaml + the cluster's values file, the project's broker as an existing Kafka), every
pod Ready, Valkey's replica following its primary, `helm test`, a sale from outside the pods counted once and
read back as `make report` reads it, the HPAs' CPU, and every object in the release's namespace."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
from kubernetes import client

from bftools.cluster import ns_run
from bftools.cluster import release as chart
from tests.cluster.releases import NAMESPACE, RELEASE, Releases, manifest, ok, strimzi_objects, wait

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]


def test_the_readme_install_succeeds_and_everything_is_ready(readme: Releases) -> None:
    assert readme.first_install is not None
    print(f"the session's helm install --wait took {readme.first_install.seconds:.0f}s")
    apps = client.AppsV1Api(readme.api)
    selector = f"{chart.INSTANCE}={RELEASE}"
    deployments = apps.list_namespaced_deployment(NAMESPACE, label_selector=selector, _request_timeout=10).items
    assert {d.metadata.name for d in deployments if d.metadata} == {"bf-api", "bf-bridge", "bf-writer", "bf-consumer"}
    for deployment in deployments:
        assert deployment.status is not None
        assert deployment.spec is not None
        assert deployment.status.ready_replicas == deployment.spec.replicas, deployment.metadata
    valkey = apps.read_namespaced_stateful_set("bf-valkey", NAMESPACE, _request_timeout=10)
    assert valkey.status is not None
    assert valkey.status.ready_replicas == 2  # 1 primary + 1 replica (values/dev.yaml)
    claims = client.CoreV1Api(readme.api).list_namespaced_persistent_volume_claim(NAMESPACE, _request_timeout=10).items
    assert {(c.metadata.name, c.status.phase) for c in claims if c.metadata and c.status} == {
        ("data-bf-valkey-0", "Bound"),
        ("data-bf-valkey-1", "Bound"),
    }
    # No Strimzi object in external mode: the services use the cluster's broker.
    assert not strimzi_objects(manifest(readme.info.kubeconfig, RELEASE, NAMESPACE))


REPLICATION = """\
import json, sys, time, valkey
primary, replica, user, password, token = sys.argv[1:6]
def connect(host):
    return valkey.Valkey(host=host, port=6379, username=user, password=password, socket_timeout=5)
connect(primary).set("replication-check", token, ex=60)
deadline = time.monotonic() + 10
copied = connect(replica).get("replication-check")
while copied != token.encode() and time.monotonic() < deadline:
    time.sleep(0.2)
    copied = connect(replica).get("replication-check")
print(json.dumps({"primary": connect(primary).info("replication"), "replica": connect(replica).info("replication"),
                  "copied": copied.decode() if copied else None}))
"""


def test_the_valkey_replica_follows_the_primary(readme: Releases) -> None:
    core = client.CoreV1Api(readme.api)
    ips: dict[str, str] = {}
    for pod in ("bf-valkey-0", "bf-valkey-1"):
        status = core.read_namespaced_pod(pod, NAMESPACE, _request_timeout=10).status
        assert status is not None
        assert status.pod_ip
        ips[pod] = status.pod_ip
    # The check writes a key of its own and reads INFO: the admin's, as an operator would.
    admin = chart.valkey_login(readme.api, NAMESPACE, RELEASE, "admin")
    token = uuid.uuid4().hex
    argv = [ips["bf-valkey-0"], ips["bf-valkey-1"], admin.user, admin.password or "", token]
    done = ns_run([sys.executable, "-c", REPLICATION, *argv])
    seen = json.loads(done.stdout)
    assert seen["primary"]["role"] == "master"
    assert seen["primary"]["connected_slaves"] == 1
    # the replica announces its stable name (it keeps it when rescheduled; Sentinel resolves it)
    assert seen["primary"]["slave0"]["ip"] == f"bf-valkey-1.bf-valkey-headless.{NAMESPACE}.svc.cluster.local"
    assert seen["primary"]["slave0"]["state"] == "online"
    assert seen["replica"]["role"] == "slave"
    assert seen["replica"]["master_link_status"] == "up"
    assert seen["replica"]["master_host"].startswith("bf-valkey-0.bf-valkey-headless.")
    assert seen["copied"] == token


def test_helm_test_passes(readme: Releases) -> None:
    """The smoke pod's sale goes through the api Service, Kafka and the consumer and is counted in Valkey;
    the Valkey check sees the primary and its replica, and the read-only reader and a client without a login
    refused a write."""
    out = ok(readme.helm("test", RELEASE, "-n", NAMESPACE, "--logs", "--timeout", "3m"), "helm test")
    assert "bf-test-smoke" in out
    assert "Phase:          Succeeded" in out
    assert "api stored sale " in out
    assert " in Valkey" in out  # consumer counted sale <id> in Valkey
    assert (
        "primary bf-valkey-primary: the reader reads; its writes, FLUSHALL and CONFIG and a client without a "
        "login are refused" in out
    )
    assert "bf-valkey-1.bf-valkey-headless.black-friday.svc.cluster.local: role replica" in out


def test_a_sale_from_outside_the_pods_is_counted_once_and_read_as_make_report_reads_it(readme: Releases) -> None:
    before = chart.report(readme.api, NAMESPACE, RELEASE)
    product = f"k8s-{uuid.uuid4().hex[:8]}"
    sale = {"categoria": "Belleza", "producto_id": product, "precio": 120.5, "cantidad_vendida": 3}
    status, body = chart.post_sale(readme.api, NAMESPACE, RELEASE, sale)
    assert status == 201, body
    assert body["status"] == "stored"

    def counted() -> bool:
        return bool(chart.report(readme.api, NAMESPACE, RELEASE)["total_sales"] > before["total_sales"])

    wait(counted, 30, "the sale counted in Valkey", interval=0.5)
    # once: the consumer commits after applying; a second look (after its next poll) sees the same figures
    time.sleep(2)
    after = chart.report(readme.api, NAMESPACE, RELEASE)
    assert after["total_sales"] == before["total_sales"] + 1
    belleza_before = before["categories"].get("Belleza", {"sales": 0, "units": 0})
    assert after["categories"]["Belleza"]["sales"] == belleza_before["sales"] + 1
    assert after["categories"]["Belleza"]["units"] == belleza_before["units"] + 3
    # python -m bftools.cluster report (make cluster-report) prints the same figures
    cli = subprocess.run(
        [sys.executable, "-m", "bftools.cluster", "report", "--release", RELEASE, "-n", NAMESPACE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=chart.helm_env(),
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == after


def test_the_hpas_read_cpu_from_the_metrics_api(readme: Releases) -> None:
    """Every HPA gets a CPU figure soon after the install (the api's and the bridge's read <unknown> for
    over a minute when their pods became ready late)."""
    autoscaling = client.AutoscalingV2Api(readme.api)

    def all_read() -> bool:
        hpas = autoscaling.list_namespaced_horizontal_pod_autoscaler(NAMESPACE, _request_timeout=10).items
        assert {h.metadata.name for h in hpas if h.metadata} == {"bf-api", "bf-bridge", "bf-consumer"}
        return all(
            h.status is not None
            and h.status.current_metrics
            and h.status.current_metrics[0].resource is not None
            and h.status.current_metrics[0].resource.current.average_utilization is not None
            for h in hpas
        )

    wait(all_read, 120, "a CPU figure on every HPA", interval=2)


def test_another_release_in_another_namespace_does_not_collide(readme: Releases) -> None:
    """The chart makes no cluster-wide object: every object of the release sits in its namespace, so another
    release of the same name can live in another namespace (test_admission installs values/prod.yaml's bf
    beside this one)."""
    for obj in manifest(readme.info.kubeconfig, RELEASE, NAMESPACE):
        assert obj["metadata"].get("namespace") == NAMESPACE, obj["metadata"]
        resource = readme.objects.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        assert resource.namespaced, obj["kind"]
