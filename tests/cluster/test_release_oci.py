"""The chart as its users get it: packaged and pushed to the local cluster's registry as an OCI artifact (the
chart step of scripts/push-images), then `helm install oci://...` of that version, as the chart's README says,
in a namespace of its own; every workload ready, its images from the cluster's registry; then uninstalled and
its namespace deleted.

The release keeps to a topic and consumer group of its own on the cluster's broker, so that its consumer takes
no sale from another release of the chart (the README's, when a test installed it)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from bftools.cluster import ClusterInfo, broker
from bftools.cluster import release as chart
from bftools.release.push_images import chart_metadata, push_chart
from tests.cluster.releases import delete_namespace, ok, room_made

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]

RELEASE = "bf"


def test_the_chart_pushed_to_a_registry_installs_from_there(
    cluster: ClusterInfo, api: client.ApiClient, tmp_path: Path
) -> None:
    name, version = chart_metadata()
    pushed = push_chart(cluster.registry, True, tmp_path / "package")  # the registry is plain HTTP
    assert pushed.url == f"oci://{cluster.registry}/charts/{name}"
    run_id = uuid.uuid4().hex[:6]
    namespace, topic = f"bf-oci-{run_id}", f"oci-{run_id}"
    broker.create_pipeline(topic, topic)  # an existing Kafka: the chart makes no topic, and no ACL
    broker.apply_client_secret(api, namespace)  # the services' Kafka logins (the cluster's values name it)
    install = [
        *("install", RELEASE, pushed.url, "--version", version, "--plain-http"),
        *("-n", namespace, "--create-namespace"),
        *("-f", str(chart.VALUES / "dev.yaml"), "-f", str(cluster.values_file)),
        *("--set", f"global.kafka.topic={topic}", "--set", f"global.kafka.consumerGroup={topic}"),
        *("--wait", "--timeout", "4m"),
    ]
    core = client.CoreV1Api(api)
    room_made(core)
    try:
        ok(chart.helm(cluster.kubeconfig, *install, timeout=300), f"helm install {pushed.url} --version {version}")
        meta = json.loads(
            ok(
                chart.helm(cluster.kubeconfig, "get", "metadata", RELEASE, "-n", namespace, "-o", "json"),
                "helm get metadata",
            )
        )
        assert meta["status"] == "deployed", meta
        assert (meta["chart"], meta["version"]) == (name, version), meta

        apps = client.AppsV1Api(api)
        selector = f"{chart.INSTANCE}={RELEASE}"
        deployments = apps.list_namespaced_deployment(namespace, label_selector=selector, _request_timeout=10).items
        assert {d.metadata.name for d in deployments if d.metadata} == {
            "bf-api",
            "bf-bridge",
            "bf-writer",
            "bf-consumer",
        }
        for deployment in deployments:
            assert deployment.spec is not None
            assert deployment.status is not None
            assert deployment.status.ready_replicas == deployment.spec.replicas, deployment.metadata
        valkey = apps.read_namespaced_stateful_set("bf-valkey", namespace, _request_timeout=10)
        assert valkey.spec is not None
        assert valkey.status is not None
        assert valkey.status.ready_replicas == valkey.spec.replicas
        pods = core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=10).items
        images = {str(c.image) for p in pods if p.spec for c in [*(p.spec.init_containers or []), *p.spec.containers]}
        assert images
        assert all(image.startswith(f"{cluster.registry}/") for image in images), images
    finally:  # deleted, not waited for: the namespace is this run's own, no later test needs it gone
        chart.helm(cluster.kubeconfig, "uninstall", RELEASE, "-n", namespace, timeout=240)
        delete_namespace(core, namespace)
