"""One owner per contract: what the chart takes from the code (settings, ports, gRPC names) and its layout."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from bftools.chartgen.generate import stale
from blackfriday.api.settings import ApiSettings
from blackfriday.bridge.settings import BridgeSettings
from blackfriday.consumer.settings import ConsumerSettings
from blackfriday.grpcwire import SERVICE_NAME
from blackfriday.settings import FromEnv
from blackfriday.writer.settings import WriterSettings
from tests.chart.conftest import (
    CHART,
    HELM,
    KUBE_VERSION,
    STRIMZI_APIS,
    env_of,
    kinds_by_template,
    render,
    render_error,
)
from tests.conftest import ROOT

pytestmark = pytest.mark.chart

#: The usual short names of kinds, as kubectl takes them.
SHORT_NAMES = {
    "ScaledObject": "scaledobject",
    "HorizontalPodAutoscaler": "hpa",
    "PodDisruptionBudget": "pdb",
    "PersistentVolumeClaim": "pvc",
}
SERVICES: dict[str, type[FromEnv]] = {
    "api": ApiSettings,
    "bridge": BridgeSettings,
    "writer": WriterSettings,
    "consumer": ConsumerSettings,
}


def test_the_generated_files_are_current() -> None:
    out_of_date = [str(path.relative_to(ROOT)) for path in stale()]
    assert not out_of_date, f"run make generate: {out_of_date} differ from what bftools.chartgen builds"


@pytest.mark.parametrize("service", SERVICES)
def test_a_config_key_the_service_does_not_read_fails_the_render_naming_it(service: str) -> None:
    error = render_error("--set", f"{service}.config.LOG_LEVELL=DEBUG")
    assert f"{service}:\n- at '/config': additional properties 'LOG_LEVELL' not allowed" in error


def test_the_typo_of_the_issue_is_refused() -> None:
    error = render_error("--set", "api.config.FORWARD_BATCH_MAXX=50")
    assert "additional properties 'FORWARD_BATCH_MAXX' not allowed" in error


@pytest.mark.parametrize(
    ("key", "why"),
    [("api.config.BRIDGE_URL=http://x:1", "BRIDGE_URL"), ("writer.config.LISTEN_PORT=1", "LISTEN_PORT")],
)
def test_settings_the_chart_sets_itself_are_not_config_keys(key: str, why: str) -> None:
    assert f"additional properties '{why}' not allowed" in render_error("--set", key)


@pytest.mark.parametrize(
    ("flag", "key", "message"),
    [
        ("--set", "consumer.config.BATCH_MAX=0", "at '/config/BATCH_MAX': minimum: got 0, want 1"),
        ("--set", "api.config.FORWARD_BATCH_MAX=1001", "at '/config/FORWARD_BATCH_MAX': maximum: got 1,001"),
        ("--set", "consumer.config.BATCH_MAX=lots", "at '/config/BATCH_MAX': got string, want integer"),
        ("--set-json", "bridge.config.GRPC_TIMEOUT_SECONDS=0.01", "at '/config/GRPC_TIMEOUT_SECONDS'"),
        ("--set", "bridge.config.GRPC_TIMEOUT_SECONDS=soon", "at '/config/GRPC_TIMEOUT_SECONDS'"),
    ],
)
def test_config_values_get_the_services_own_bounds(flag: str, key: str, message: str) -> None:
    assert message in render_error(flag, key)


def test_a_decimal_setting_can_be_set_on_the_command_line() -> None:
    """helm --set passes 2.5 as the string "2.5": the schema takes it, the service reads it."""
    assert (
        render("--set", "bridge.config.GRPC_TIMEOUT_SECONDS=2.5").get("ConfigMap", "bf-bridge")["data"][
            "GRPC_TIMEOUT_SECONDS"
        ]
        == "2.5"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_config_key_of_the_values_is_a_setting_of_the_service(service: str) -> None:
    values = yaml.safe_load((CHART / "charts" / service / "values.yaml").read_text())
    declared = {spec.name for spec in SERVICES[service].specs() if not spec.wired}
    assert set(values["config"]) <= declared
    assert set(values["config"]), f"{service} sets no config: the test would prove nothing"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_listens_where_its_container_port_and_service_say(service: str) -> None:
    """The port a service reads from its ConfigMap is the containerPort its Service targets: one table."""
    rendered = render()
    config = rendered.get("ConfigMap", f"bf-{service}")["data"]
    container = dict(rendered.containers())[f"bf-{service}/{service}"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    listening = {name: int(config[name]) for name in ("LISTEN_PORT", "METRICS_PORT") if name in config}
    assert sorted(listening.values()) == sorted(ports.values())
    for port in rendered.get("Service", f"bf-{service}")["spec"]["ports"]:
        assert ports[port["targetPort"]] == port["port"]
    defaults = {spec.name: spec.default for spec in SERVICES[service].specs()}
    assert listening == {name: defaults[name] for name in listening}, "the chart and the code agree on ports"


def test_neighbours_are_reached_on_the_ports_they_listen_on() -> None:
    rendered = render()
    containers = dict(rendered.containers())
    bridge_port = rendered.get("ConfigMap", "bf-bridge")["data"]["LISTEN_PORT"]
    writer_port = rendered.get("ConfigMap", "bf-writer")["data"]["LISTEN_PORT"]
    assert env_of(containers["bf-api/api"])["BRIDGE_URL"] == f"http://bf-bridge:{bridge_port}"
    assert env_of(containers["bf-bridge/bridge"])["GRPC_HOST"].endswith(f":{writer_port}")
    smoke = containers["bf-test-smoke/smoke"]["command"]
    api_port = rendered.get("ConfigMap", "bf-api")["data"]["LISTEN_PORT"]
    assert f"--api=http://bf-api:{api_port}" in smoke


def test_the_writers_readiness_probe_checks_the_grpc_service_of_the_proto() -> None:
    writer = dict(render().containers())["bf-writer/writer"]
    assert writer["readinessProbe"]["grpc"]["service"] == SERVICE_NAME
    grpc_port = next(p["containerPort"] for p in writer["ports"] if p["name"] == "grpc")
    assert writer["readinessProbe"]["grpc"]["port"] == grpc_port == writer["livenessProbe"]["grpc"]["port"]


def test_the_umbrellas_tests_and_notes_use_the_subcharts_own_names() -> None:
    """A release named otherwise: every name the tests and NOTES print is an object of the render."""
    rendered = render("--set", "grafana.admin.existingSecret=my-grafana-admin", environment="prod")
    pods = {p["metadata"]["name"]: p for p in rendered.of_kind("Pod")}
    grafana_env = env_of(pods["bf-test-grafana"]["spec"]["containers"][0])
    assert grafana_env["GRAFANA_PASSWORD"]["secretKeyRef"]["name"] == "my-grafana-admin"
    script = pods["bf-test-valkey"]["spec"]["containers"][0]["command"][-1]
    statefulset = rendered.get("StatefulSet", "bf-valkey")
    headless = statefulset["spec"]["serviceName"]
    for index in range(1, statefulset["spec"]["replicas"]):
        assert f"replica=bf-valkey-{index}.{headless}.shop.svc.cluster.local" in script


def test_no_symlinks_and_no_noise_from_helm() -> None:
    assert not [p for p in CHART.rglob("*") if p.is_symlink()]
    done = subprocess.run(
        [str(HELM), "template", "bf", str(CHART), "--kube-version", KUBE_VERSION, *STRIMZI_APIS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_each_template_file_renders_one_kind() -> None:
    """A file's name says what it renders: one kind per file, named after it (configmap-dashboards.yaml),
    with prod's values or dev's (the consumer's hpa.yaml renders with dev's only: prod scales the consumer on lag,
    its scaledobject.yaml)."""
    prod, dev = kinds_by_template("prod"), kinds_by_template("dev")
    for chart in [*SERVICES, "kafka", "valkey", "grafana"]:
        for template in sorted((CHART / "charts" / chart / "templates").glob("*.yaml")):
            shown = f"charts/{chart}/templates/{template.name}"
            kinds = prod.get(shown, set()) | dev.get(shown, set())
            assert len(kinds) == 1, f"{template}: {kinds}"
            kind = SHORT_NAMES.get(next(iter(kinds)), next(iter(kinds)).lower())
            assert template.stem.split("-")[0] == kind, f"{template} renders {kind}"


def test_an_existing_kafka_replaces_strimzi() -> None:
    """global.kafka.external.bootstrapServers: the services use it, no Strimzi object, no CRD needed."""
    rendered = render(
        "--set",
        "global.kafka.external.bootstrapServers=kafka-0.shared:9092",
        "--set",
        "global.kafka.external.existingSecret=kafka-logins",
        strimzi=False,
    )
    assert not [o for o in rendered.objects if o["apiVersion"].startswith("kafka.strimzi.io")]
    containers = dict(rendered.containers())
    for name in ("bf-writer/writer", "bf-consumer/consumer"):
        assert env_of(containers[name])["KAFKA_BROKERS"] == "kafka-0.shared:9092"


def test_a_bad_external_bootstrap_is_refused_at_render() -> None:
    assert "at '/global/kafka/external/bootstrapServers'" in render_error(
        "--set", "global.kafka.external.bootstrapServers=kafka"
    )


def test_the_dead_letter_topic_is_made_and_given_to_the_consumer() -> None:
    rendered = render(environment="dev")
    topic = rendered.get("KafkaTopic", "bf-sales-topic-dlq")
    assert topic["spec"]["topicName"] == "sales-topic-dlq"
    consumer = env_of(dict(rendered.containers())["bf-consumer/consumer"])
    assert consumer["KAFKA_DLQ_TOPIC"] == "sales-topic-dlq"
    other = render("--set", "global.kafka.topic=ventas", "--set", "global.kafka.deadLetterTopic=ventas-malas")
    assert env_of(dict(other.containers())["bf-consumer/consumer"])["KAFKA_DLQ_TOPIC"] == "ventas-malas"
    assert other.get("KafkaTopic", "bf-ventas-malas")


def test_kafka_objects_are_named_after_their_cluster_so_releases_can_share_a_namespace() -> None:
    """Two releases with values/dev.yaml put their Kafka in the namespace "kafka": their node pools and
    topics must not have the same names there (the API server and helm refused the second release)."""
    rendered = render("--set", "global.kafka.topic=Ventas_2026", "--set", "global.kafka.clusterName=tienda")
    assert {p["metadata"]["name"] for p in rendered.of_kind("KafkaNodePool")} == {"tienda-dual-role"}
    topics = {t["metadata"]["name"]: t["spec"]["topicName"] for t in rendered.of_kind("KafkaTopic")}
    # a Kafka topic name may hold "_" and capitals, a Kubernetes name may not
    assert topics == {"tienda-ventas-2026": "Ventas_2026", "tienda-ventas-2026-dlq": "Ventas_2026-dlq"}
    for obj in rendered.of_kind("KafkaNodePool") + rendered.of_kind("KafkaTopic"):
        assert obj["metadata"]["labels"]["strimzi.io/cluster"] == "tienda"


def test_the_bridge_starts_once_a_writer_is_ready() -> None:
    """An init container waits until the writers' Service accepts a connection, so that the bridge's gRPC
    channel does not look up the writers' headless Service before it has an address (see _deployment.tpl)."""
    rendered = render(environment="dev")
    spec = rendered.get("Deployment", "bf-bridge")["spec"]["template"]["spec"]
    [init] = spec["initContainers"]
    assert init["command"][:2] == ["python", "-c"]
    assert init["command"][3:] == ["bf-writer:50051"]
    assert init["image"] == spec["containers"][0]["image"]
    assert set(init["resources"]) == {"requests", "limits"}
    for name in ("bf-api", "bf-writer", "bf-consumer"):
        assert "initContainers" not in rendered.get("Deployment", name)["spec"]["template"]["spec"]
    assert "at '/waitFor/0': value must be one of" in render_error("--set", "bridge.waitFor[0]=grafana")
