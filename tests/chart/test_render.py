"""charts/black-friday rendered with the real helm: lint, Kubernetes and Strimzi schemas, and what users rely on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from bftools.cluster.addons import COREFILE
from tests.chart.conftest import CHART, ENVIRONMENTS, KUBE_VERSION, VALUES, Render, env_of, helm, render, values_args
from tests.conftest import ROOT

pytestmark = pytest.mark.chart

SERVICES = ("api", "bridge", "writer", "consumer")
STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_lint_strict_is_clean(environment: str) -> None:
    done = helm("lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION, *values_args(environment))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[WARNING]" not in done.stdout
    assert "[ERROR]" not in done.stdout


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_kubernetes_object_validates_against_its_schema(environment: str) -> None:
    rendered = render(environment=environment)
    checked = 0
    for obj in rendered.objects:
        if obj["apiVersion"].startswith(("kafka.strimzi.io/", "keda.sh/")):
            continue  # custom resources: validated against the Strimzi CRDs below, KEDA's in test_lag_scaling
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_strimzi_resources_validate_against_the_strimzi_crds(environment: str, shared_dir: Path) -> None:
    schemas = {}
    for crd_file in (shared_dir / "crds" / "strimzi-1.2.0").glob("*.yaml"):
        crd = yaml.safe_load(crd_file.read_text())
        for version in crd["spec"]["versions"]:
            schemas[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = version["schema"][
                "openAPIV3Schema"
            ]
    resources = [o for o in render(environment=environment).objects if o["apiVersion"].startswith("kafka.strimzi.io")]
    assert {o["kind"] for o in resources} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    for obj in resources:
        if obj["kind"] == "KafkaUser" and (obj["apiVersion"], "KafkaUser") not in schemas:
            continue  # ../shared has no KafkaUser CRD yet: test_kafka_users.py checks them (and with it, when there)
        schema = schemas[(obj["apiVersion"], obj["kind"])]
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
        assert not errors, f"{obj['kind']} {obj['metadata']['name']}: {errors[0].message} at {list(errors[0].path)}"


def load_values(environment: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((VALUES / f"{environment}.yaml").read_text())
    return loaded


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_hpa_bounds_and_target_are_the_values(environment: str) -> None:
    values = load_values(environment)
    rendered = render(environment=environment)
    for service in SERVICES:
        autoscaling = values.get(service, {}).get("autoscaling", {})
        deployment = rendered.get("Deployment", f"bf-{service}")
        if autoscaling.get("enabled"):
            hpa = rendered.get("HorizontalPodAutoscaler", f"bf-{service}")
            assert hpa["apiVersion"] == "autoscaling/v2"
            assert hpa["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": f"bf-{service}",
            }
            assert hpa["spec"]["minReplicas"] == autoscaling["minReplicas"]
            assert hpa["spec"]["maxReplicas"] == autoscaling["maxReplicas"]
            [metric] = hpa["spec"]["metrics"]
            assert metric["resource"]["target"] == {
                "type": "Utilization",
                "averageUtilization": autoscaling["targetCPUUtilizationPercentage"],
            }
            assert "replicas" not in deployment["spec"], f"{service}: the HPA owns the replica count"
        else:
            assert not [
                h for h in rendered.of_kind("HorizontalPodAutoscaler") if h["metadata"]["name"] == f"bf-{service}"
            ]
            if values.get(service, {}).get("lagScaling", {}).get("enabled"):
                assert "replicas" not in deployment["spec"], f"{service}: KEDA's HPA owns the replica count"
            else:
                assert deployment["spec"]["replicas"] == values.get(service, {}).get("replicaCount", 1)


def test_dev_follows_the_seed_autoscaling() -> None:
    rendered = render(environment="dev")
    bounds = {
        h["metadata"]["name"]: (
            h["spec"]["minReplicas"],
            h["spec"]["maxReplicas"],
            h["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        )
        for h in rendered.of_kind("HorizontalPodAutoscaler")
    }
    assert bounds == {"bf-api": (1, 3, 30), "bf-bridge": (1, 3, 50), "bf-consumer": (1, 2, 50)}
    assert rendered.get("Deployment", "bf-writer")["spec"]["replicas"] == 1
    assert rendered.get("StatefulSet", "bf-valkey")["spec"]["replicas"] == 2  # 1 primary + 1 replica


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_container_runs_restricted(environment: str) -> None:
    rendered = render(environment=environment)
    for name, spec in rendered.pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
    for name, container in rendered.containers():
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert container["resources"]["limits"]["memory"], name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_standard_labels_on_every_object(environment: str) -> None:
    for obj in render(environment=environment).objects:
        labels = obj["metadata"].get("labels", {})
        missing = [label for label in STANDARD_LABELS if label not in labels]
        assert not missing, f"{obj['kind']} {obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/part-of"] == "black-friday"
        assert labels["app.kubernetes.io/instance"] == "bf"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def _selectors(rendered: Render) -> dict[str, Any]:
    selectors: dict[str, Any] = {}
    for obj in rendered.objects:
        if obj["kind"] in ("Deployment", "StatefulSet"):
            selectors[f"{obj['kind']}/{obj['metadata']['name']}"] = obj["spec"]["selector"]
            selectors[f"{obj['kind']}/{obj['metadata']['name']}/pod"] = {
                k: v
                for k, v in obj["spec"]["template"]["metadata"]["labels"].items()
                if k in obj["spec"]["selector"]["matchLabels"]
            }
        elif obj["kind"] == "Service":
            selectors[f"Service/{obj['metadata']['name']}"] = obj["spec"]["selector"]
    return selectors


def test_selectors_are_stable_across_an_upgrade() -> None:
    before = _selectors(render(environment="dev"))
    after = _selectors(
        render("--set", "global.imageTag=v2", "--set", "api.config.FORWARD_BATCH_MAX=50", environment="dev")
    )
    assert before == after
    for key, selector in before.items():
        if key.startswith(("Deployment", "StatefulSet")) and not key.endswith("/pod"):
            assert set(selector["matchLabels"]) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}


def test_pvcs_for_valkey_and_grafana() -> None:
    rendered = render(
        "--set",
        "valkey.persistence.storageClass=fast",
        "--set",
        "valkey.persistence.size=3Gi",
        "--set",
        "grafana.persistence.size=2Gi",
        environment="dev",
    )
    [claim] = rendered.get("StatefulSet", "bf-valkey")["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["resources"]["requests"]["storage"] == "3Gi"
    pvc = rendered.get("PersistentVolumeClaim", "bf-grafana")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Gi"
    volumes = rendered.get("Deployment", "bf-grafana")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "storage", "persistentVolumeClaim": {"claimName": "bf-grafana"}} in volumes


def test_services_are_wired_to_each_other_by_release_names() -> None:
    rendered = render(environment="dev")
    containers = dict(rendered.containers())
    services = {s["metadata"]["name"]: s for s in rendered.of_kind("Service")}
    api = env_of(containers["bf-api/api"])
    assert api["BRIDGE_URL"] == "http://bf-bridge:8081"
    assert services["bf-bridge"]["spec"]["ports"][0]["port"] == 8081
    bridge = env_of(containers["bf-bridge/bridge"])
    assert bridge["GRPC_HOST"] == "dns:///bf-writer-headless.shop.svc.cluster.local:50051"
    assert services["bf-writer-headless"]["spec"]["clusterIP"] == "None"
    bootstrap = "bf-kafka-bootstrap.kafka.svc.cluster.local:9093"  # dev: Kafka in the "kafka" namespace (TLS)
    assert env_of(containers["bf-writer/writer"])["KAFKA_BROKERS"] == bootstrap
    consumer = env_of(containers["bf-consumer/consumer"])
    assert consumer["KAFKA_BROKERS"] == bootstrap
    assert consumer["KAFKA_TOPIC"] == "sales-topic"
    assert consumer["KAFKA_GROUP"] == "black-friday-group"
    assert consumer["VALKEY_ADDR"] == "bf-valkey-primary:6379"
    assert consumer["VALKEY_USER"] == "consumer"
    assert consumer["VALKEY_PASSWORD"] == {"secretKeyRef": {"name": "bf-valkey", "key": "consumer"}}
    assert services["bf-valkey-primary"]["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == "bf-valkey-0"
    kafka = rendered.get("Kafka", "bf")
    assert kafka["metadata"]["namespace"] == "kafka"
    assert rendered.get("KafkaTopic", "bf-sales-topic")["metadata"]["labels"]["strimzi.io/cluster"] == "bf"


def test_kafka_in_the_release_namespace_by_default() -> None:
    rendered = render()
    assert rendered.get("Kafka", "bf")["metadata"]["namespace"] == "shop"
    containers = dict(rendered.containers())
    assert env_of(containers["bf-writer/writer"])["KAFKA_BROKERS"] == "bf-kafka-bootstrap.shop.svc.cluster.local:9093"


def test_probes_http_for_api_and_bridge_native_grpc_for_writer() -> None:
    containers = dict(render().containers())
    for name in ("bf-api/api", "bf-bridge/bridge"):
        assert containers[name]["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert containers[name]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    writer = containers["bf-writer/writer"]
    assert writer["livenessProbe"]["grpc"] == {"port": 50051, "service": ""}
    assert writer["readinessProbe"]["grpc"] == {"port": 50051, "service": "blackfriday.ProductSaleService"}
    assert containers["bf-consumer/consumer"]["livenessProbe"]["httpGet"]["port"] == "metrics"


def test_config_changes_roll_the_pods() -> None:
    def checksum(*args: str) -> str:
        deployment = render(*args).get("Deployment", "bf-api")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum() == checksum("--set", "bridge.config.GRPC_TIMEOUT_SECONDS=9")
    assert checksum() != checksum("--set", "api.config.FORWARD_BATCH_MAX=50")
    config = render("--set", "api.config.FORWARD_BATCH_MAX=50").get("ConfigMap", "bf-api")
    assert config["data"]["FORWARD_BATCH_MAX"] == "50"


def test_pod_disruption_budgets_and_network_policies() -> None:
    rendered = render(environment="prod")
    budgets = {p["metadata"]["name"] for p in rendered.of_kind("PodDisruptionBudget")}
    assert {"bf-api", "bf-bridge", "bf-writer", "bf-consumer", "bf-valkey"} <= budgets
    policies = {p["metadata"]["name"]: p for p in rendered.of_kind("NetworkPolicy")}
    deny = policies["bf-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny
    writer_from = [peer["podSelector"]["matchLabels"] for peer in policies["bf-writer"]["spec"]["ingress"][0]["from"]]
    assert {"app.kubernetes.io/name": "bridge", "app.kubernetes.io/instance": "bf"} in writer_from
    assert policies["bf-api"]["spec"]["ingress"] == [{}]
    assert not render("--set", "global.networkPolicy.enabled=false").of_kind("NetworkPolicy")


def test_valkey_primary_replicas_aof_and_password() -> None:
    rendered = render("--set", "valkey.replicas=2")
    statefulset = rendered.get("StatefulSet", "bf-valkey")
    assert statefulset["spec"]["replicas"] == 3
    config = rendered.get("ConfigMap", "bf-valkey")["data"]
    assert "appendonly yes" in config["valkey.conf"]
    assert config["node.sh"] == (ROOT / "charts/black-friday/charts/valkey/files/node.sh").read_text()
    valkey = env_of(dict(rendered.containers())["bf-valkey/valkey"])
    assert valkey["NODES"] == " ".join(
        f"bf-valkey-{i}.bf-valkey-headless.shop.svc.cluster.local:6379:26379" for i in range(3)
    )
    assert valkey["SENTINEL"] == "0"  # node 0 is the primary
    secret = rendered.get("Secret", "bf-valkey")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert {s["metadata"]["name"] for s in rendered.of_kind("Service")} >= {
        "bf-valkey-primary",
        "bf-valkey-read",
        "bf-valkey-headless",
    }
    existing = render(
        "--set",
        "global.valkey.auth.existingSecret=my-valkey",
    )
    assert not [s for s in existing.of_kind("Secret") if s["metadata"]["name"] == "bf-valkey"]
    consumer = env_of(dict(existing.containers())["bf-consumer/consumer"])
    assert consumer["VALKEY_PASSWORD"] == {"secretKeyRef": {"name": "my-valkey", "key": "consumer"}}


def test_valkey_with_sentinel_is_found_through_the_sentinels_by_every_client() -> None:
    rendered = render("--set", "valkey.replicas=2", "--set", "global.valkey.sentinel.enabled=true")
    pod = rendered.get("StatefulSet", "bf-valkey")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["valkey", "sentinel"]
    containers = dict(rendered.containers())
    assert env_of(containers["bf-valkey/sentinel"])["SENTINEL_QUORUM"] == "2"
    assert env_of(containers["bf-valkey/valkey"])["SENTINEL"] == "1"
    address = "sentinel://bf-valkey-sentinel:26379/bf"
    assert env_of(containers["bf-consumer/consumer"])["VALKEY_ADDR"] == address
    assert f"--valkey={address}" in containers["bf-test-smoke/smoke"]["command"]
    services = {s["metadata"]["name"] for s in rendered.of_kind("Service")}
    assert "bf-valkey-sentinel" in services
    assert "bf-valkey-primary" not in services  # any pod may be the primary: no Service can say which
    datasources = yaml.safe_load(rendered.get("ConfigMap", "bf-grafana-provisioning")["data"]["datasources.yaml"])
    valkey = datasources["datasources"][0]
    assert valkey["url"] == "bf-valkey-sentinel:26379"
    assert valkey["jsonData"]["client"] == "sentinel"
    assert valkey["jsonData"]["sentinelName"] == "bf"
    assert set(valkey["secureJsonData"]) == {"password", "sentinelPassword"}


@pytest.mark.parametrize(
    ("limit", "percent", "maxmemory"),
    [("256Mi", "70", 187904819), ("1Gi", "80", 858993459)],
)
def test_valkey_maxmemory_is_a_share_of_its_memory_limit(limit: str, percent: str, maxmemory: int) -> None:
    rendered = render("--set", f"valkey.resources.limits.memory={limit}", "--set", f"valkey.maxmemoryPercent={percent}")
    assert f"maxmemory {maxmemory}\n" in rendered.get("ConfigMap", "bf-valkey")["data"]["valkey.conf"]
    explicit = render("--set", "valkey.maxmemory=100Mi")
    assert f"maxmemory {100 * 1024 * 1024}\n" in explicit.get("ConfigMap", "bf-valkey")["data"]["valkey.conf"]


def test_valkey_pods_prefer_different_nodes() -> None:
    pod = render().get("StatefulSet", "bf-valkey")["spec"]["template"]["spec"]
    preferred = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    hard = render("--set", "valkey.podAntiAffinity=hard").get("StatefulSet", "bf-valkey")["spec"]["template"]["spec"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" in hard["affinity"]["podAntiAffinity"]
    none = render("--set", "valkey.podAntiAffinity=none").get("StatefulSet", "bf-valkey")["spec"]["template"]["spec"]
    assert "affinity" not in none


def test_grafana_credentials_datasource_and_service() -> None:
    rendered = render(environment="dev")
    import base64

    secret = rendered.get("Secret", "bf-grafana")["data"]
    password = base64.b64decode(secret["admin-password"]).decode()
    assert password != "admin"
    assert len(password) == 24
    provisioning = rendered.get("ConfigMap", "bf-grafana-provisioning")["data"]
    datasource = yaml.safe_load(provisioning["datasources.yaml"])["datasources"][0]
    assert (datasource["type"], datasource["uid"]) == ("redis-datasource", "bf-valkey")
    assert datasource["url"] == "redis://bf-valkey-read:6379"
    service = rendered.get("Service", "bf-grafana")["spec"]
    assert service["type"] == "NodePort"
    assert service["ports"][0]["nodePort"] == 32000
    env = env_of(dict(rendered.containers())["bf-grafana/grafana"])
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == {"secretKeyRef": {"name": "bf-grafana", "key": "admin-password"}}
    assert env["GF_PLUGINS_PREINSTALL_SYNC"] == "redis-datasource@2.2.0"
    existing = render("--set", "grafana.admin.existingSecret=grafana-admin")
    assert not [s for s in existing.of_kind("Secret") if s["metadata"]["name"] == "bf-grafana"]


def test_grafana_plugin_from_the_private_registry_needs_no_internet() -> None:
    rendered = render(
        "--set",
        "grafana.redisPlugin.source=oci",
        "--set",
        "grafana.redisPlugin.ociPlainHttp=true",
        "--set",
        "grafana.redisPlugin.ociReference=10.0.0.5:5000/grafana-plugins/redis-datasource:2.2.0",
    )
    spec = rendered.get("Deployment", "bf-grafana")["spec"]["template"]["spec"]
    [init] = spec["initContainers"]
    assert init["command"] == [
        "oras",
        "pull",
        "--plain-http",
        "--output=/var/lib/grafana/plugins",
        "10.0.0.5:5000/grafana-plugins/redis-datasource:2.2.0",
    ]
    env = env_of(spec["containers"][0])
    assert env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true"
    assert "GF_PLUGINS_PREINSTALL_SYNC" not in env
    assert "GF_INSTALL_PLUGINS" not in env


def test_ingress_routes_purchase_to_the_api() -> None:
    ingress = render(environment="dev").get("Ingress", "bf-api")["spec"]
    assert ingress["ingressClassName"] == "public"
    [path] = ingress["rules"][0]["http"]["paths"]
    assert path["path"] == "/purchase"
    assert path["backend"]["service"] == {"name": "bf-api", "port": {"name": "http"}}


def test_prod_runs_three_kafka_nodes_on_persistent_storage() -> None:
    rendered = render(environment="prod")
    pools = {p["metadata"]["name"]: p["spec"] for p in rendered.of_kind("KafkaNodePool")}
    assert pools["bf-controllers"]["roles"] == ["controller"]
    assert pools["bf-controllers"]["replicas"] == 3
    assert pools["bf-brokers"]["roles"] == ["broker"]
    assert pools["bf-brokers"]["replicas"] == 3
    assert all(p["storage"]["type"] == "persistent-claim" for p in pools.values())
    kafka = rendered.get("Kafka", "bf")["spec"]["kafka"]
    assert kafka["config"]["min.insync.replicas"] == 2
    assert rendered.get("KafkaTopic", "bf-sales-topic")["spec"]["replicas"] == 3
    dev = render(environment="dev")
    [pool] = dev.of_kind("KafkaNodePool")
    assert pool["spec"]["roles"] == ["controller", "broker"]
    assert pool["spec"]["storage"]["type"] == "ephemeral"


def test_helm_tests_are_hooks_that_can_be_switched_off() -> None:
    pods = {p["metadata"]["name"]: p for p in render().of_kind("Pod")}
    assert set(pods) == {"bf-test-smoke", "bf-test-valkey", "bf-test-grafana"}
    for pod in pods.values():
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert "hook-succeeded" in pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "test"
    smoke = pods["bf-test-smoke"]["spec"]["containers"][0]["command"]
    assert smoke[:2] == ["bf-smoke", "sale"]
    assert "--api=http://bf-api:8080" in smoke
    valkey_script = pods["bf-test-valkey"]["spec"]["containers"][0]["command"][2]
    assert "bf-valkey-1.bf-valkey-headless" in valkey_script
    for test in ("smoke", "valkey", "grafana"):
        remaining = {p["metadata"]["name"] for p in render("--set", f"tests.{test}.enabled=false").of_kind("Pod")}
        assert f"bf-test-{test}" not in remaining
        assert len(remaining) == 2


def test_notes_say_how_to_reach_the_api_and_grafana() -> None:
    done = helm(
        "install",
        "bf",
        str(CHART),
        "--namespace",
        "shop",
        "--dry-run=client",
        "-f",
        str(VALUES / "dev.yaml"),
        "--set",
        "kafka.crdCheck=false",
    )
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "/purchase" in notes
    assert "get secret bf-grafana" in notes
    assert "32000" in notes
    assert "helm test bf -n shop" in notes


def test_rollouts_start_a_new_pod_before_an_old_one_stops_and_the_old_one_drains() -> None:
    rendered = render()
    for name in ("bf-api", "bf-bridge", "bf-writer", "bf-consumer"):
        strategy = rendered.get("Deployment", name)["spec"]["strategy"]
        assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    containers = dict(rendered.containers())
    for name in ("api", "bridge"):  # they keep serving while their endpoints leave the Services
        assert containers[f"bf-{name}/{name}"]["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    assert "lifecycle" not in containers["bf-consumer/consumer"]  # it leaves its group on SIGTERM
    # The bridges look the writers up in DNS: a writer keeps serving longer than the cluster's DNS may still
    # give out its address (the local cluster's CoreDNS TTL, Kubernetes' usual one).
    ttl = int(re.search(r"\bttl (\d+)", COREFILE).group(1))  # type: ignore[union-attr]
    sleep = containers["bf-writer/writer"]["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    assert int(sleep[1]) > ttl  # (and its grace holds it: else the chart refuses to render, test_bad_values)


def test_kafka_keeps_what_its_volumes_hold() -> None:
    """values/prod.yaml: 3 brokers of 50Gi, 12 partitions x 3 replicas of two topics: 24 partition replicas a
    broker, each with its retained bytes and an active segment of a quarter of them, within 85 % of 50Gi."""
    rendered = render(*values_args("prod"), "--set", "kafka.crdCheck=false")
    config = rendered.get("KafkaTopic", "bf-sales-topic")["spec"]["config"]
    retained, segment = config["retention.bytes"], config["segment.bytes"]
    assert segment == retained // 4
    assert 24 * (retained + segment) <= 0.85 * 50 * 2**30 < 24 * (retained + segment) * 1.001
    ephemeral = render("--set", "kafka.crdCheck=false").get("KafkaTopic", "bf-sales-topic")["spec"]["config"]
    assert "retention.bytes" not in ephemeral  # an ephemeral volume without a size: bounded by time only
