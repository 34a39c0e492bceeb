"""values/prod.yaml and values/dev.yaml in Strimzi mode on a real API server: each installed in a namespace of its
own beside the README's release (their pods kept from starting by a ResourceQuota of zero pods: they would not
fit on 2 cores, and admission is what they prove), with the Strimzi CRDs of ../shared; the objects are read
back from the API server; the chart stops, at render, what Strimzi mode or a bound volume cannot take; and
`helm uninstall` leaves only what the README says stays."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml
from kubernetes import client

from bftools.cluster import release as chart
from tests.cluster.releases import (
    KAFKA_NAMESPACE,
    MONITORING,
    NAMESPACE,
    PROD_NAMESPACE,
    RELEASE,
    STRIMZI_NAMESPACE,
    STRIMZI_RELEASE,
    Releases,
    helm_records,
    manifest,
    missing,
    ok,
    revision,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]


def test_a_missing_kafka_namespace_stops_the_install_at_render(strimzi: Releases) -> None:
    """Strimzi mode with global.kafka.namespace naming no namespace: the chart's own message (it was the API
    server's `namespaces "kafka" not found` for every Strimzi object), and nothing installed."""
    absent = f"bf-absent-{uuid.uuid4().hex[:6]}"
    done = strimzi.helm(
        "install", "bf", str(chart.CHART), "-n", "default", "-f", str(chart.VALUES / "prod.yaml"),
        "--set", f"global.kafka.namespace={absent}",
    )  # fmt: skip
    assert done.returncode != 0
    assert f'global.kafka.namespace is "{absent}", but the cluster has no namespace "{absent}"' in done.stderr
    assert "kubectl create namespace" in done.stderr
    assert not helm_records(strimzi.api, "default", "bf")


@pytest.mark.parametrize(("release", "namespace"), [(RELEASE, PROD_NAMESPACE), (STRIMZI_RELEASE, STRIMZI_NAMESPACE)])
def test_every_object_is_admitted_and_read_back_as_rendered(admitted: Releases, release: str, namespace: str) -> None:
    """Each object helm applied is in the API server with every field the chart rendered (a CRD's schema
    would prune an unknown field silently), and the restricted Pod Security Standard raised no warning."""
    stderr = admitted.notes[namespace]
    assert "PodSecurity" not in stderr, stderr
    objects = manifest(admitted.info.kubeconfig, release, namespace)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "StatefulSet", "HorizontalPodAutoscaler", "Ingress", "PersistentVolumeClaim"} <= kinds
    assert {"Kafka", "KafkaNodePool", "KafkaTopic"} <= kinds
    if release == RELEASE:  # values/prod.yaml with monitoring on: the Prometheus Operator's kinds admitted too,
        assert {"PodMonitor", "PrometheusRule"} <= kinds  # and KEDA's (its consumer scales on lag)
        assert "ScaledObject" in kinds
    problems = []
    for obj in objects:
        live = admitted.objects.get(obj, namespace)
        if live is None:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: not in the cluster")
            continue
        for key in ("spec", "data", "rules", "roleRef", "subjects"):
            if key in obj:
                problems += [f"{obj['kind']} {obj['metadata']['name']} {p}" for p in missing(obj[key], live.get(key))]
        problems += [
            f"{obj['kind']} {obj['metadata']['name']} labels {p}"
            for p in missing(obj["metadata"].get("labels", {}), live["metadata"].get("labels", {}))
        ]
    assert not problems, "\n".join(problems)


def test_the_strimzi_resources_carry_the_values(admitted: Releases) -> None:
    """Kafka, the node pools and the two topics of both releases, side by side in the namespace "kafka"."""
    custom = client.CustomObjectsApi(admitted.api)

    def get(plural: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = custom.get_namespaced_custom_object(  # type: ignore[assignment]
            "kafka.strimzi.io", "v1", KAFKA_NAMESPACE, plural, name, _request_timeout=10
        )
        return found

    prod = yaml.safe_load((chart.VALUES / "prod.yaml").read_text())["kafka"]
    dev = yaml.safe_load((chart.VALUES / "dev.yaml").read_text())["kafka"]
    for cluster, values in (("bf", prod), (STRIMZI_RELEASE, dev)):
        kafka = get("kafkas", cluster)
        assert kafka["metadata"]["annotations"]["meta.helm.sh/release-name"] == cluster
        [listener] = kafka["spec"]["kafka"]["listeners"]
        assert (listener["port"], listener["tls"], listener["authentication"]) == (
            9093,
            True,
            {"type": "scram-sha-512"},
        )
        assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
        for pool in values["nodePools"]:
            live = get("kafkanodepools", f"{cluster}-{pool['name']}")
            assert live["metadata"]["labels"]["strimzi.io/cluster"] == cluster
            assert live["spec"]["replicas"] == pool["replicas"]
            assert live["spec"]["roles"] == pool["roles"]
            assert live["spec"]["storage"]["type"] == pool["storage"]["type"]
            if pool["storage"]["type"] == "persistent-claim":
                assert live["spec"]["storage"]["size"] == pool["storage"]["size"]
                assert live["spec"]["storage"]["deleteClaim"] is False
            assert not missing(pool["resources"], live["spec"]["resources"])
            assert live["spec"]["jvmOptions"] == pool["jvmOptions"]
        for topic in ("sales-topic", "sales-topic-dlq"):
            live = get("kafkatopics", f"{cluster}-{topic}")
            assert live["spec"]["topicName"] == topic
            assert live["spec"]["partitions"] == values["topic"]["partitions"]
            assert live["spec"]["replicas"] == values["topic"].get("replicas", 1)
            assert live["metadata"]["labels"]["strimzi.io/cluster"] == cluster
    assert get("kafkas", "bf")["spec"]["kafka"]["config"]["min.insync.replicas"] == 2


def test_prod_release_bf_lives_beside_the_readme_release_bf(admitted: Releases, readme: Releases) -> None:
    """Two releases named bf, values/prod.yaml's and the README's, installed at the same time in two
    namespaces: the chart makes no cluster-wide object that they would both claim."""
    assert revision(admitted.info.kubeconfig, RELEASE, PROD_NAMESPACE)[1] == "deployed"
    assert revision(readme.info.kubeconfig, RELEASE, NAMESPACE)[1] == "deployed"


def test_a_release_whose_kafka_name_is_taken_stops_at_render(admitted: Releases) -> None:
    """A third release named bf, in yet another namespace, with Kafka in "kafka": the chart says which value
    to change (helm said `Kafka "bf" in namespace "kafka" exists and cannot be imported`)."""
    done = admitted.helm(
        "install", "bf", str(chart.CHART), "-n", "default", "-f", str(chart.VALUES / "prod.yaml"),
    )  # fmt: skip
    assert done.returncode != 0
    assert 'the namespace "kafka" already has a Kafka cluster "bf", of the release "bf" of namespace' in done.stderr
    assert "--set global.kafka.clusterName=bf-default" in done.stderr
    assert not helm_records(admitted.api, "default", "bf")


def test_grafanas_volume_cannot_change_size_and_the_chart_says_so(admitted: Releases) -> None:
    """On values/prod.yaml's release (Grafana's claim 5Gi, bound): a larger and a smaller size are stopped
    at render with the chart's message; the release stays at its revision."""
    before = revision(admitted.info.kubeconfig, "bf", PROD_NAMESPACE)
    # the install's own values, so that the upgrade changes nothing else (the other tests, in any order,
    # read the release as installed: its monitors included)
    prod = ["-n", PROD_NAMESPACE, "-f", str(chart.VALUES / "prod.yaml"), *MONITORING]
    grow = admitted.helm("upgrade", "bf", str(chart.CHART), *prod, "--set", "grafana.persistence.size=6Gi")
    assert grow.returncode != 0
    assert "grafana.persistence.size: the Grafana volume was created with 5Gi and cannot become 6Gi" in grow.stderr
    assert "does not allow volume expansion" in grow.stderr
    shrink = admitted.helm("upgrade", "bf", str(chart.CHART), *prod, "--set", "grafana.persistence.size=4Gi")
    assert "a claim cannot shrink to 4Gi" in shrink.stderr
    assert revision(admitted.info.kubeconfig, "bf", PROD_NAMESPACE) == before
    # the same size written another way is no change
    same = admitted.helm("upgrade", "bf", str(chart.CHART), *prod, "--set", "grafana.persistence.size=5120Mi")
    ok(same, "helm upgrade with 5120Mi")
    assert revision(admitted.info.kubeconfig, "bf", PROD_NAMESPACE) == (before[0] + 1, "deployed")


def test_uninstalling_the_admitted_releases_leaves_the_kept_secrets_and_nothing_in_kafka(admitted: Releases) -> None:
    for release, namespace in (("bf", PROD_NAMESPACE), (STRIMZI_RELEASE, STRIMZI_NAMESPACE)):
        ok(admitted.helm("uninstall", release, "-n", namespace, "--wait"), f"helm uninstall {release}")
    custom = client.CustomObjectsApi(admitted.api)
    for plural in ("kafkas", "kafkanodepools", "kafkatopics"):
        listed: dict[str, Any] = custom.list_namespaced_custom_object(  # type: ignore[assignment]
            "kafka.strimzi.io", "v1", KAFKA_NAMESPACE, plural, _request_timeout=10
        )
        assert [i["metadata"]["name"] for i in listed["items"]] == [], plural
    core = client.CoreV1Api(admitted.api)
    secrets = {
        s.metadata.name for s in core.list_namespaced_secret(PROD_NAMESPACE, _request_timeout=10).items if s.metadata
    }
    assert secrets == {"bf-valkey", "bf-grafana"}
