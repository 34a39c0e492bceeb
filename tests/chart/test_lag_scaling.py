"""The consumer scaled on Kafka lag: a KEDA ScaledObject in place of its CPU HPA, valid against KEDA's CRD,
pointed at the consumer's own group and topic, never past the topic's partitions; bad values stop the render."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from bftools.runtime.paths import keda_config
from tests.chart.conftest import (
    CHART,
    KUBE_VERSION,
    STRIMZI_APIS,
    Render,
    env_of,
    helm,
    render,
    render_error,
    values_args,
)

pytestmark = pytest.mark.chart

LAG = ("--set", "consumer.lagScaling.enabled=true")


def _scaled_object(rendered: Render) -> dict[str, Any]:
    return rendered.get("ScaledObject", "bf-consumer")


def _crd_schema(kind: str) -> dict[str, Any]:
    for crd_file in (keda_config() / "crd" / "bases").glob("keda.sh_*.yaml"):
        crd = yaml.safe_load(crd_file.read_text())
        if crd["spec"]["names"]["kind"] == kind:
            [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
            schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
            return schema
    raise AssertionError(f"KEDA's CRDs have no {kind}")


def test_off_by_default_the_consumer_has_neither_scaled_object_nor_lag() -> None:
    rendered = render()
    assert not rendered.of_kind("ScaledObject")


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_the_scaled_object_validates_against_kedas_crd(environment: str) -> None:
    rendered = render(*LAG, environment=environment)
    obj = _scaled_object(rendered)
    errors = sorted(jsonschema.Draft7Validator(_crd_schema("ScaledObject")).iter_errors(obj), key=str)
    assert not errors, f"{errors[0].message} at {list(errors[0].path)}"


def test_it_scales_the_consumer_on_its_own_groups_lag_in_place_of_the_cpu_hpa() -> None:
    rendered = render(*LAG, "--set", "consumer.lagScaling.lagThreshold=250")
    obj = _scaled_object(rendered)
    assert obj["spec"]["scaleTargetRef"] == {"name": "bf-consumer"}
    assert (obj["spec"]["minReplicaCount"], obj["spec"]["maxReplicaCount"]) == (1, 3)
    [trigger] = obj["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    env = env_of(dict(rendered.containers())["bf-consumer/consumer"])
    config = rendered.get("ConfigMap", "bf-consumer")["data"]
    wired = {**config, **{k: v for k, v in env.items() if isinstance(v, str)}}
    metadata = trigger["metadata"]
    assert metadata["bootstrapServers"] == wired["KAFKA_BROKERS"]
    assert metadata["consumerGroup"] == wired["KAFKA_GROUP"]
    assert metadata["topic"] == wired["KAFKA_TOPIC"]
    assert metadata["lagThreshold"] == "250"
    assert metadata["allowIdleConsumers"] == "false"  # KEDA itself caps at the partitions
    assert "replicas" not in rendered.get("Deployment", "bf-consumer")["spec"], "KEDA's HPA owns the replicas"
    assert not [h for h in rendered.of_kind("HorizontalPodAutoscaler") if h["metadata"]["name"] == "bf-consumer"]


def test_the_scale_down_waits_a_minute_after_the_drain_by_default() -> None:
    obj = _scaled_object(render(*LAG))
    behavior = obj["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior == {"scaleDown": {"stabilizationWindowSeconds": 60}}


def test_prod_scales_its_consumers_on_lag() -> None:
    rendered = render(environment="prod")
    obj = _scaled_object(rendered)
    assert (obj["spec"]["minReplicaCount"], obj["spec"]["maxReplicaCount"]) == (2, 6)
    partitions = yaml.safe_load((CHART / "charts" / "kafka" / "values.yaml").read_text())["topic"]["partitions"]
    assert obj["spec"]["maxReplicaCount"] <= partitions


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "consumer.lagScaling.maxReplicas=7"), "is above the topic's partitions (kafka.topic.partitions: 6)"),
        (
            ("--set", "consumer.lagScaling.maxReplicas=4", "--set", "kafka.topic.partitions=3"),
            "Lower maxReplicas to at most 3",
        ),
        (
            ("--set", "consumer.lagScaling.minReplicas=3", "--set", "consumer.lagScaling.maxReplicas=2"),
            "must not exceed",
        ),
        (("--set", "consumer.autoscaling.enabled=true"), "one scaler per Deployment"),
        (("--set", "consumer.lagScaling.lagThreshold=0"), "lagThreshold"),
    ],
)
def test_bad_lag_scaling_values_stop_the_render(args: tuple[str, ...], message: str) -> None:
    assert message in render_error(*LAG, *args)


def test_an_external_kafka_is_not_checked_against_the_charts_partitions() -> None:
    """The chart does not know an external topic's partitions; KEDA caps the replicas at them."""
    rendered = render(
        *LAG,
        *("--set", "consumer.lagScaling.maxReplicas=12", "--set", "global.kafka.external.bootstrapServers=k:9092"),
        *("--set", "global.kafka.external.existingSecret=kafka-logins"),
    )
    assert _scaled_object(rendered)["spec"]["maxReplicaCount"] == 12


def test_without_keda_in_the_cluster_the_render_says_how_to_install_it() -> None:
    done = helm("template", "bf", str(CHART), "--kube-version", KUBE_VERSION, *STRIMZI_APIS, *values_args("prod"))
    assert done.returncode != 0
    assert "consumer.lagScaling needs KEDA 2.x" in done.stderr
    assert "helm install keda" in done.stderr
    done = helm(
        "template",
        "bf",
        str(CHART),
        "--kube-version",
        KUBE_VERSION,
        *STRIMZI_APIS,
        *values_args("prod"),
        "--set",
        "consumer.lagScaling.crdCheck=false",
    )
    assert done.returncode == 0, done.stderr
