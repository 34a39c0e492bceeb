"""The chart's Prometheus Operator objects: a PodMonitor per service and Valkey's exporter, the PrometheusRule
that promtool accepts, every alert unit-tested (tests/chart/alerts.test.yaml) and documented (docs/alerts.md),
and Strimzi's metrics in Strimzi mode."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bftools.runtime.paths import monitoring_binary, monitoring_crds
from tests.chart.conftest import Render, env_of, render, values_args
from tests.conftest import ROOT

pytestmark = pytest.mark.chart

MONITORING = ("--set", "monitoring.podMonitors.enabled=true", "--set", "monitoring.prometheusRule.enabled=true")
#: Strimzi mode with Kafka's metrics: every alert the chart has.
EVERY_ALERT = (*MONITORING, "--set", "kafka.metrics.enabled=true")
ALERTS_DOC = ROOT / "docs" / "alerts.md"
UNIT_TESTS = Path(__file__).with_name("alerts.test.yaml")


def _rules(rendered: Render) -> dict[str, Any]:
    rule = rendered.get("PrometheusRule", "bf-black-friday")
    return {"groups": rule["spec"]["groups"]}


def _alerts(rendered: Render) -> list[dict[str, Any]]:
    return [r for group in _rules(rendered)["groups"] for r in group["rules"]]


def test_monitoring_is_off_by_default() -> None:
    rendered = render()
    assert not rendered.of_kind("PodMonitor")
    assert not rendered.of_kind("PrometheusRule")
    assert not [d for d in rendered.of_kind("Deployment") if d["metadata"]["name"] == "bf-valkey-exporter"]


def test_a_pod_monitor_scrapes_each_service_and_valkeys_exporter_on_a_port_its_pods_have() -> None:
    rendered = render(*MONITORING, "--set", "monitoring.podMonitors.labels.release=kube-prometheus-stack")
    monitors = {m["metadata"]["name"]: m for m in rendered.of_kind("PodMonitor")}
    assert set(monitors) == {"bf-api", "bf-bridge", "bf-writer", "bf-consumer", "bf-valkey-exporter"}
    pods = dict(rendered.pod_specs())
    for name, monitor in monitors.items():
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        spec = monitor["spec"]
        assert spec["jobLabel"] == "app.kubernetes.io/name"  # job = api, bridge, ...: what the alerts select
        assert spec["selector"]["matchLabels"]["app.kubernetes.io/name"] == name.removeprefix("bf-")
        port = spec["podMetricsEndpoints"][0]["port"]
        ports = {p["name"] for c in pods[name]["containers"] for p in c.get("ports", [])}
        assert port in ports, (name, port, ports)


def test_valkeys_exporter_reads_every_valkey_pod_as_the_monitor_user() -> None:
    rendered = render(*MONITORING, "--set", "valkey.replicas=2")
    env = env_of(dict(rendered.containers())["bf-valkey-exporter/exporter"])
    assert env["VALKEY_ADDRS"] == ",".join(
        f"bf-valkey-{i}.bf-valkey-headless.shop.svc.cluster.local:6379" for i in range(3)
    )
    assert env["VALKEY_USER"] == "monitor"  # PING, INFO, ROLE: no key, no write
    assert env["VALKEY_PASSWORD"] == {"secretKeyRef": {"name": "bf-valkey", "key": "monitor"}}
    valkey_policy = rendered.get("NetworkPolicy", "bf-valkey")["spec"]["ingress"][0]["from"]
    assert {"app.kubernetes.io/name": "valkey-exporter", "app.kubernetes.io/instance": "bf"} in [
        peer.get("podSelector", {}).get("matchLabels") for peer in valkey_policy
    ]


def test_monitors_and_rules_validate_against_the_prometheus_operator_crds() -> None:
    schemas = {}
    for crd_file in monitoring_crds().glob("*.yaml"):
        crd = yaml.safe_load(crd_file.read_text())
        for version in crd["spec"]["versions"]:
            schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    objects = [o for o in render(*EVERY_ALERT).objects if o["apiVersion"] == "monitoring.coreos.com/v1"]
    assert {o["kind"] for o in objects} == {"PodMonitor", "PrometheusRule"}
    for obj in objects:
        errors = sorted(jsonschema.Draft7Validator(schemas[obj["kind"]]).iter_errors(obj), key=str)
        assert not errors, f"{obj['kind']} {obj['metadata']['name']}: {errors[0].message} at {list(errors[0].path)}"


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(monitoring_binary("promtool")), *args], capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )


@pytest.mark.parametrize("environment", ["default", "dev", "prod"])
def test_promtool_accepts_the_rendered_rules(environment: str, tmp_path: Path) -> None:
    rendered = render(*values_args(environment), *EVERY_ALERT, "--set", "kafka.crdCheck=false")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rules(rendered)))
    done = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_fires_when_it_should_and_not_before(tmp_path: Path) -> None:
    """promtool's unit tests (alerts.test.yaml) on the rules as the chart renders them by default."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rules(render(*EVERY_ALERT))))
    shutil.copy(UNIT_TESTS, tmp_path / "alerts.test.yaml")
    done = _promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_every_alert_is_unit_tested_documented_and_links_its_runbook() -> None:
    alerts = _alerts(render(*EVERY_ALERT))
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names)) >= 13
    tested = {
        case["alertname"]
        for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
    }
    assert set(names) == tested
    doc = ALERTS_DOC.read_text()
    headings = set(re.findall(r"^## (\w+)$", doc, re.M))
    assert set(names) == headings
    for alert in alerts:
        assert alert["annotations"]["runbook"] == f"docs/alerts.md#{alert['alert'].lower()}"
        assert alert["labels"]["severity"] in ("critical", "warning")


def test_the_thresholds_and_durations_are_values() -> None:
    rendered = render(
        *MONITORING,
        "--set", "monitoring.prometheusRule.for=30s",
        "--set", "monitoring.prometheusRule.window=1m",
        "--set", "monitoring.prometheusRule.errorRatio=0.05",
        "--set", "monitoring.prometheusRule.hpaAtMaximum=false",
    )  # fmt: skip
    alerts = {a["alert"]: a for a in _alerts(rendered)}
    errors = alerts["BlackFridayPurchaseErrors"]
    assert errors["for"] == "30s"
    assert "[1m]" in errors["expr"]
    assert "> 0.05" in errors["expr"]
    assert "BlackFridayHpaAtMaximum" not in alerts
    assert "BlackFridayKafkaUnderReplicated" not in alerts  # Kafka's metrics are off


def test_strimzi_mode_exports_kafkas_metrics_and_lag() -> None:
    rendered = render(*EVERY_ALERT)
    kafka = rendered.get("Kafka", "bf")["spec"]
    config = kafka["kafka"]["metricsConfig"]
    assert config["type"] == "jmxPrometheusExporter"
    configmap = rendered.get("ConfigMap", config["valueFrom"]["configMapKeyRef"]["name"])
    rules = yaml.safe_load(configmap["data"][config["valueFrom"]["configMapKeyRef"]["key"]])
    assert any(r["pattern"] == "kafka.server<type=(.+), name=(.+)><>Value" for r in rules["rules"])
    assert kafka["kafkaExporter"] == {
        "topicRegex": "^(sales-topic|sales-topic-dlq)$",
        "groupRegex": "^black-friday-group$",
    }
    assert "bf-kafka" in {m["metadata"]["name"] for m in rendered.of_kind("PodMonitor")}
