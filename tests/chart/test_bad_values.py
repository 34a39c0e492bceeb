"""Bad values fail `helm template` with a message that says what is wrong: one case per rule."""

from __future__ import annotations

import pytest

from tests.chart.conftest import render, render_error

pytestmark = pytest.mark.chart


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        # schema: replicas and autoscaling
        (["--set", "api.replicaCount=0"], "api:\n- at '/replicaCount': minimum: got 0, want 1"),
        (["--set", "global.serviceDefaults.replicaCount=0"], "at '/global/serviceDefaults/replicaCount': minimum"),
        (["--set", "bridge.autoscaling.minReplicas=0"], "at '/autoscaling/minReplicas': minimum: got 0, want 1"),
        (
            ["--set", "consumer.autoscaling.targetCPUUtilizationPercentage=0"],
            "at '/autoscaling/targetCPUUtilizationPercentage': minimum: got 0, want 1",
        ),
        (
            ["--set", "writer.autoscaling.targetCPUUtilizationPercentage=101"],
            "at '/autoscaling/targetCPUUtilizationPercentage': maximum: got 101, want 100",
        ),
        (["--set", "valkey.replicas=-1"], "valkey:\n- at '/replicas': minimum: got -1, want 0"),
        # schema: registry, images
        (["--set", "global.imageRegistry=http://10.1.2.3:5000"], "at '/global/imageRegistry'"),
        (["--set", "global.imageRegistry=10.1.2.3:port"], "at '/global/imageRegistry'"),
        (["--set", "valkey.image.registry=zot:5000/"], "at '/image/registry'"),
        (["--set", "api.image.digest=latest"], "at '/image/digest'"),
        (["--set", "api.image.pullPolicy=Sometimes"], "at '/image/pullPolicy'"),
        # schema: unknown keys, at the top and in a subchart
        (["--set", "apii.enabled=true"], "additional properties 'apii' not allowed"),
        (["--set", "api.replicas=2"], "api:\n- at '': additional properties 'replicas' not allowed"),
        (["--set", "valkey.persistance.size=1Gi"], "additional properties 'persistance' not allowed"),
        # schema: enumerations and ranges
        (["--set", "global.focusCategory=Juguetes"], "at '/global/focusCategory'"),
        (["--set", "grafana.service.type=Ingress"], "at '/service/type'"),
        (["--set", "grafana.service.nodePort=80"], "at '/service/nodePort': minimum: got 80, want 30,000"),
        (["--set", "grafana.redisPlugin.source=npm"], "at '/redisPlugin/source'"),
        (["--set", "valkey.appendfsync=sometimes"], "at '/appendfsync'"),
        (["--set", "valkey.persistence.size=lots"], "at '/persistence/size'"),
        (["--set", "api.resources.limits.memory=lots"], "at '/resources/limits/memory'"),
        (["--set", "kafka.version=3.7.0"], "at '/version'"),
        (["--set", "kafka.nodePools[0].storage.type=nfs"], "at '/nodePools/0/storage/type'"),
        (["--set", "kafka.nodePools[0].replicas=0"], "at '/nodePools/0/replicas': minimum: got 0, want 1"),
        (["--set", "kafka.topic.partitions=0"], "at '/topic/partitions': minimum: got 0, want 1"),
        (["--set", "global.kafka.namespace=Kafka_NS"], "at '/global/kafka/namespace'"),
        (["--set", "grafana.dashboards.refresh=often"], "at '/dashboards/refresh'"),
        (["--set", "grafana.prometheus.url=prometheus:9090"], "at '/prometheus/url'"),
        (["--set", "api.logLevel=LOUD"], "at '/logLevel'"),
        # the chart's own validation
        (
            [
                "--set",
                "api.autoscaling.enabled=true",
                "--set",
                "api.autoscaling.minReplicas=3",
                "--set",
                "api.autoscaling.maxReplicas=2",
            ],
            "api.autoscaling: minReplicas (3) must not exceed maxReplicas (2)",
        ),
        (["--set", "grafana.redisPlugin.source=url"], "grafana.redisPlugin.source is url: set grafana.redisPlugin.url"),
        (
            ["--set", "grafana.redisPlugin.source=oci"],
            "grafana.redisPlugin.source is oci: set grafana.redisPlugin.ociReference",
        ),
        (
            [
                "--set-json",
                'kafka.nodePools=[{"name":"c","roles":["controller"],"replicas":1,"storage":{"type":"ephemeral"}}]',
            ],
            "kafka.nodePools: at least one pool needs the broker role",
        ),
        (
            [
                "--set-json",
                'kafka.nodePools=[{"name":"b","roles":["broker"],"replicas":1,"storage":{"type":"ephemeral"}}]',
            ],
            "kafka.nodePools: at least one pool needs the controller role (KRaft)",
        ),
        (
            ["--set", "ingress.enabled=true", "--set", "api.enabled=false"],
            "ingress.enabled routes /purchase to the api: api.enabled must be true",
        ),
        (
            ["--set", "global.valkey.sentinel.enabled=true", "--set", "valkey.replicas=0"],
            "global.valkey.sentinel.enabled: Sentinel needs a replica to promote",
        ),
        (
            [
                "--set",
                "global.valkey.sentinel.enabled=true",
                "--set",
                "valkey.replicas=1",
                "--set",
                "valkey.sentinel.quorum=3",
            ],
            "valkey.sentinel.quorum: 3 Sentinels must agree, but only 2 run",
        ),
        (
            ["--set", "valkey.resources.limits.memory=null"],
            "valkey.maxmemory: set it, or a memory limit (valkey.resources.limits.memory) to derive it from",
        ),
        (["--set", "valkey.maxmemory=1gb"], "at '/maxmemory'"),
        (
            ["--set", "api.terminationGracePeriodSeconds=10"],
            "api.terminationGracePeriodSeconds (10) must hold the stop: preStopSleepSeconds (5) + "
            "GRACEFUL_TIMEOUT_SECONDS + DRAIN_IDLE_SECONDS (12)",
        ),
        (["--set", "writer.preStopSleepSeconds=-1"], "at '/preStopSleepSeconds'"),
        (
            [
                "--set-json",
                'kafka.nodePools=[{"name":"b","roles":["broker","controller"],"replicas":1,'
                '"storage":{"type":"persistent-claim","size":"10Gi"}}]',
                "--set",
                "kafka.topic.retentionBytes=2Gi",
            ],
            "kafka.topic.retentionBytes: 2Gi per partition does not fit the brokers' volumes: each broker holds 12 "
            "partition replicas",
        ),
        (["--set", "valkey.maxmemoryPercent=99"], "at '/maxmemoryPercent': maximum: got 99, want 95"),
        (["--set", "valkey.podAntiAffinity=always"], "at '/podAntiAffinity'"),
        (["--set", "global.valkey.sentinel.primaryName=my primary"], "at '/global/valkey/sentinel/primaryName'"),
    ],
)
def test_bad_value_fails_the_render_with_a_readable_message(flags: list[str], message: str) -> None:
    assert message in render_error(*flags)


def test_without_strimzi_the_install_fails_saying_how_to_install_the_operator() -> None:
    error = render_error(strimzi=False)
    assert "The cluster does not serve kafka.strimzi.io/v1" in error
    assert "helm install strimzi oci://quay.io/strimzi-helm/strimzi-kafka-operator --version 1.2.0" in error
    assert "kafka.crdCheck=false" in error


def test_the_crd_check_can_be_turned_off_for_offline_rendering() -> None:
    assert render("--set", "kafka.crdCheck=false", strimzi=False).of_kind("Kafka")


def test_global_and_enabled_are_allowed_for_use_as_a_subchart() -> None:
    rendered = render("--set", "global.parentSetting=1", "--set", "enabled=true", "--set", "api.global.x=1")
    assert rendered.of_kind("Deployment")


def test_components_can_be_switched_off() -> None:
    rendered = render(
        "--set", "kafka.enabled=false", "--set", "grafana.enabled=false", "--set", "tests.grafana.enabled=false"
    )
    kinds = {o["kind"] for o in rendered.objects}
    assert "Kafka" not in kinds
    assert not [d for d in rendered.of_kind("Deployment") if d["metadata"]["name"] == "bf-grafana"]
