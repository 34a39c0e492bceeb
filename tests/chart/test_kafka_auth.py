"""Kafka's logins and rights in the chart: Strimzi's TLS listener with SCRAM-SHA-512 and simple
authorization, a KafkaUser per service with the ACLs its job needs (the local brokers' own:
bftools.stack.kafka_access), the services' passwords only through secretKeyRefs, an existing Kafka's logins
from global.kafka.external.existingSecret, KEDA's lag reader logged in as the consumer, and readable render
errors for values that do not fit together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bftools.stack import kafka_access
from tests.chart.conftest import VALUES, Render, env_of, render, render_error

pytestmark = pytest.mark.chart

EXTERNAL = ("--set", "global.kafka.external.bootstrapServers=kafka-1.example.com:9093")
LOGINS = ("--set", "global.kafka.external.existingSecret=kafka-logins")
LAG_SCALING = ("--set", "consumer.lagScaling.enabled=true", "--set", "consumer.autoscaling.enabled=false")
CA_FILE = "/etc/black-friday/kafka/ca.crt"


def kafka_clients(rendered: Render) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """writer / consumer -> (its container, its pod spec)."""
    found = {}
    for name, spec in rendered.pod_specs():
        for service in ("writer", "consumer"):
            if name == f"bf-{service}":
                found[service] = (spec["containers"][0], spec)
    assert set(found) == {"writer", "consumer"}
    return found


def acl_set(user: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(resource type, name, operation) of each allowed ACL of a KafkaUser."""
    acls = user["spec"]["authorization"]["acls"]
    assert all(acl["type"] == "allow" and acl["host"] == "*" for acl in acls)
    return {
        (acl["resource"]["type"], acl["resource"].get("name", "kafka-cluster"), op)
        for acl in acls
        for op in acl["operations"]
    }


def test_the_strimzi_listener_takes_tls_and_scram_logins_and_authorizes_each_user() -> None:
    rendered = render()
    kafka = rendered.get("Kafka", "bf")["spec"]
    assert kafka["kafka"]["listeners"] == [
        {"name": "tls", "port": 9093, "type": "internal", "tls": True, "authentication": {"type": "scram-sha-512"}}
    ]
    assert kafka["kafka"]["authorization"] == {"type": "simple"}
    # The User Operator makes the KafkaUsers' Secrets where the services are.
    assert kafka["entityOperator"]["userOperator"] == {"watchedNamespace": "shop"}


def test_super_users_are_only_the_ones_the_values_name() -> None:
    kafka = render("--set", "kafka.authorization.superUsers[0]=User:ops").get("Kafka", "bf")["spec"]["kafka"]
    assert kafka["authorization"] == {"type": "simple", "superUsers": ["User:ops"]}


@pytest.mark.parametrize("environment", ["default", "dev", "prod"])
def test_each_service_has_a_kafka_user_with_the_acls_of_its_job(environment: str) -> None:
    """The same rights as the local brokers give the writer and the consumer (bftools.stack.kafka_access)."""
    rendered = render(environment=environment)
    users = {u["metadata"]["name"]: u for u in rendered.of_kind("KafkaUser")}
    assert set(users) == {"bf-writer", "bf-consumer"}
    operations = {"Write": "WRITE", "Describe": "DESCRIBE", "Read": "READ", "IdempotentWrite": "IDEMPOTENT_WRITE"}
    expected = {
        (grant.user, grant.resource.name.lower(), grant.name, grant.operation.name)
        for grant in kafka_access.pipeline_grants("sales-topic", "black-friday-group", "sales-topic-dlq")
    }
    rendered_acls = {
        (name.removeprefix("bf-"), kind, resource, operations[op])
        for name, user in users.items()
        for kind, resource, op in acl_set(user)
    }
    assert rendered_acls == expected
    for user in users.values():
        assert user["metadata"]["namespace"] == "shop"  # where the services read its Secret
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "bf"
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    # No right to read for the writer, none to write the sales topic for the consumer.
    assert not {op for kind, name, op in acl_set(users["bf-writer"]) if op == "Read"}
    assert ("topic", "sales-topic", "Write") not in acl_set(users["bf-consumer"])


def test_the_acls_follow_the_topic_and_group_values() -> None:
    rendered = render(
        "--set", "global.kafka.topic=ventas", "--set", "global.kafka.consumerGroup=g1",
        "--set", "global.kafka.deadLetterTopic=ventas-malas",
    )  # fmt: skip
    users = {u["metadata"]["name"]: acl_set(u) for u in rendered.of_kind("KafkaUser")}
    assert ("topic", "ventas", "Write") in users["bf-writer"]
    assert {("topic", "ventas", "Read"), ("group", "g1", "Read"), ("topic", "ventas-malas", "Write")} <= users[
        "bf-consumer"
    ]


def test_kafka_users_validate_against_the_strimzi_crd(shared_dir: Path) -> None:
    crds = list((shared_dir / "crds" / "strimzi-1.2.0").glob("*kafkauser*.yaml"))
    if not crds:
        pytest.skip("../shared/crds/strimzi-1.2.0 has no KafkaUser CRD (044-Crd-kafkauser.yaml) to validate against")
    crd = yaml.safe_load(crds[0].read_text())
    [schema] = [v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v["name"] == "v1"]
    for user in render(environment="prod").of_kind("KafkaUser"):
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(user), key=str)
        assert not errors, f"KafkaUser {user['metadata']['name']}: {errors[0].message} at {list(errors[0].path)}"


def test_strimzi_mode_services_log_in_as_their_kafka_user_and_trust_the_cluster_ca() -> None:
    for service, (container, spec) in kafka_clients(render()).items():
        env = env_of(container)
        assert env["KAFKA_BROKERS"] == "bf-kafka-bootstrap.shop.svc.cluster.local:9093"
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["KAFKA_USERNAME"] == f"bf-{service}"
        assert env["KAFKA_PASSWORD"] == {"secretKeyRef": {"name": f"bf-{service}", "key": "password"}}
        assert env["KAFKA_CA_FILE"] == CA_FILE
        assert {"name": "kafka-ca", "mountPath": "/etc/black-friday/kafka", "readOnly": True} in container[
            "volumeMounts"
        ]
        volume = next(v for v in spec["volumes"] if v["name"] == "kafka-ca")
        assert volume["secret"] == {"secretName": "bf-cluster-ca-cert", "items": [{"key": "ca.crt", "path": "ca.crt"}]}


def test_the_cluster_ca_can_come_from_a_copy_in_the_release_namespace() -> None:
    rendered = render("--set", "global.kafka.clusterCaSecret=kafka-ca-copy", environment="dev")
    for _container, spec in kafka_clients(rendered).values():
        volume = next(v for v in spec["volumes"] if v["name"] == "kafka-ca")
        assert volume["secret"]["secretName"] == "kafka-ca-copy"


def test_services_that_do_not_talk_to_kafka_get_no_login() -> None:
    containers = dict(render().containers())
    for name in ("bf-api/api", "bf-bridge/bridge"):
        assert not [key for key in env_of(containers[name]) if key.startswith("KAFKA_")]


def test_an_existing_kafkas_logins_and_ca_come_from_its_existing_secret() -> None:
    rendered = render(*EXTERNAL, *LOGINS, strimzi=False)
    assert not rendered.of_kind("KafkaUser")
    for service, (container, spec) in kafka_clients(rendered).items():
        env = env_of(container)
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["KAFKA_USERNAME"] == {"secretKeyRef": {"name": "kafka-logins", "key": f"{service}-username"}}
        assert env["KAFKA_PASSWORD"] == {"secretKeyRef": {"name": "kafka-logins", "key": f"{service}-password"}}
        assert env["KAFKA_CA_FILE"] == CA_FILE
        volume = next(v for v in spec["volumes"] if v["name"] == "kafka-ca")
        assert volume["secret"] == {"secretName": "kafka-logins", "items": [{"key": "ca.crt", "path": "ca.crt"}]}


def test_an_existing_kafka_with_a_public_ca_and_another_mechanism() -> None:
    rendered = render(
        *EXTERNAL, *LOGINS, "--set", "global.kafka.external.caKey=",
        "--set", "global.kafka.external.saslMechanism=SCRAM-SHA-256", strimzi=False,
    )  # fmt: skip
    for container, spec in kafka_clients(rendered).values():
        env = env_of(container)
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-256"
        assert "KAFKA_CA_FILE" not in env  # the image's trusted CAs
        assert "kafka-ca" not in {v["name"] for v in spec["volumes"]}


def test_plaintext_is_still_selectable_for_a_kafka_without_authentication() -> None:
    rendered = render(*EXTERNAL, "--set", "global.kafka.external.securityProtocol=PLAINTEXT", *LAG_SCALING,
                      strimzi=False)  # fmt: skip
    for container, spec in kafka_clients(rendered).values():
        env = env_of(container)
        assert env["KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"
        assert not {"KAFKA_USERNAME", "KAFKA_PASSWORD", "KAFKA_CA_FILE"} & set(env)
        assert "kafka-ca" not in {v["name"] for v in spec["volumes"]}
    assert not rendered.of_kind("TriggerAuthentication")
    trigger = rendered.get("ScaledObject", "bf-consumer")["spec"]["triggers"][0]
    assert "authenticationRef" not in trigger
    assert not {"sasl", "tls"} & set(trigger["metadata"])


def test_keda_reads_the_lag_logged_in_as_the_consumer_in_strimzi_mode() -> None:
    rendered = render(*LAG_SCALING)
    trigger = rendered.get("ScaledObject", "bf-consumer")["spec"]["triggers"][0]
    assert trigger["metadata"]["bootstrapServers"] == "bf-kafka-bootstrap.shop.svc.cluster.local:9093"
    assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "enable")
    assert trigger["authenticationRef"] == {"name": "bf-consumer-kafka"}
    auth = rendered.get("TriggerAuthentication", "bf-consumer-kafka")["spec"]
    assert auth["env"] == [{"parameter": "username", "name": "KAFKA_USERNAME", "containerName": "consumer"}]
    assert auth["secretTargetRef"] == [
        {"parameter": "password", "name": "bf-consumer", "key": "password"},
        {"parameter": "ca", "name": "bf-cluster-ca-cert", "key": "ca.crt"},
    ]


def test_keda_reads_the_lag_of_an_existing_kafka_with_the_consumers_login() -> None:
    rendered = render(*EXTERNAL, *LOGINS, *LAG_SCALING, strimzi=False)
    auth = rendered.get("TriggerAuthentication", "bf-consumer-kafka")["spec"]
    assert "env" not in auth
    assert auth["secretTargetRef"] == [
        {"parameter": "username", "name": "kafka-logins", "key": "consumer-username"},
        {"parameter": "password", "name": "kafka-logins", "key": "consumer-password"},
        {"parameter": "ca", "name": "kafka-logins", "key": "ca.crt"},
    ]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (EXTERNAL, "global.kafka.external.existingSecret: required with securityProtocol SASL_SSL"),
        (
            (*EXTERNAL, *LOGINS, "--set", "global.kafka.external.securityProtocol=PLAINTEXT"),
            "global.kafka.external.existingSecret is set, but securityProtocol is PLAINTEXT",
        ),
        ((*EXTERNAL, "--set", "global.kafka.external.securityProtocol=SASL_PLAINTEXT"), "securityProtocol"),
        ((*EXTERNAL, *LOGINS, "--set", "global.kafka.external.saslMechanism=GSSAPI"), "saslMechanism"),
        (("--set", "kafka.entityOperator.userOperator=false"), "kafka.entityOperator.userOperator: must be true"),
        (("--set", "writer.extraEnv.KAFKA_PASSWORD=hunter2"), "writer.extraEnv.KAFKA_PASSWORD: a Kafka password"),
        (("--set", "consumer.config.KAFKA_PASSWORD=hunter2"), "additional properties 'KAFKA_PASSWORD' not allowed"),
        (("--set", "kafka.authorization.superUsers[0]=ops"), "superUsers"),
    ],
)
def test_kafka_security_values_that_do_not_fit_stop_the_render(flags: tuple[str, ...], message: str) -> None:
    assert message in render_error(*flags, strimzi="external" not in " ".join(flags))


def password_values(tree: Any, path: str = "") -> list[str]:
    """Where a values tree sets a password itself (a key named *password* with a value; *Key names a key)."""
    if isinstance(tree, dict):
        found = []
        for key, value in tree.items():
            here = f"{path}.{key}"
            if "password" in str(key).lower() and not str(key).endswith("Key") and value not in ("", None):
                found.append(here)
            found += password_values(value, here)
        return found
    if isinstance(tree, list):
        return [p for n, item in enumerate(tree) for p in password_values(item, f"{path}[{n}]")]
    return []


@pytest.mark.parametrize("values_file", sorted(p.name for p in VALUES.glob("*.yaml")))
def test_no_kafka_password_or_key_in_a_values_file_a_configmap_or_an_env_value(values_file: str) -> None:
    """Item 5 of issue 15, Kafka's share: each values file holds no password, and rendered (Strimzi mode, and
    with an existing Kafka), a Kafka password reaches a container only by secretKeyRef, never a ConfigMap."""
    assert password_values(yaml.safe_load((VALUES / values_file).read_text())) == []
    for mode in ((), (*EXTERNAL, *LOGINS)):
        rendered = render("-f", str(VALUES / values_file), *mode, strimzi=not mode)
        for name, container in rendered.containers():
            for entry in container.get("env", []):
                if entry["name"] == "KAFKA_PASSWORD":
                    assert "value" not in entry, name
                    assert set(entry["valueFrom"]) == {"secretKeyRef"}, name
        for configmap in rendered.of_kind("ConfigMap"):
            text = yaml.safe_dump(configmap.get("data", {}))
            for word in ("KAFKA_PASSWORD", "sasl.jaas.config", "sasl_plain_password", "PRIVATE KEY"):
                assert word not in text, f"{configmap['metadata']['name']} holds {word}"


def test_the_local_clusters_values_file_names_the_kafka_secret_and_holds_no_password(tmp_path: Path) -> None:
    """`make cluster-up`'s values file: the broker's SASL_SSL logins from the Secret that
    `python -m bftools.cluster kafka-secret` makes, and no password of its own."""
    from bftools.cluster import values as cluster_values
    from bftools.cluster.broker import KAFKA_SECRET
    from bftools.cluster.images import Images

    path = tmp_path / "values-local.yaml"
    images = Images("pause:1", "coredns:1", "metrics:1", "traefik:3", "valkey:8", "8.1.1", "black-friday:x", "x")
    cluster_values.write(path, images)
    assert password_values(yaml.safe_load(path.read_text())) == []
    rendered = render(
        "-f",
        str(VALUES / "dev.yaml"),
        "-f",
        str(path),
        "--api-versions",
        "traefik.io/v1alpha1/Middleware",
        strimzi=False,
    )
    assert not rendered.of_kind("KafkaUser")
    for service, (container, _spec) in kafka_clients(rendered).items():
        env = env_of(container)
        assert env["KAFKA_BROKERS"] == "10.250.0.2:9092"
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["KAFKA_PASSWORD"] == {"secretKeyRef": {"name": KAFKA_SECRET, "key": f"{service}-password"}}
        assert env["KAFKA_CA_FILE"] == CA_FILE
