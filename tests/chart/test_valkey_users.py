"""Valkey's users as the chart renders them (issue 15, item 3): what each user may do, which user each client
logs in as, the passwords only in the Secret (a key per user, or existingSecret), the Grafana data source and
the helm test as the read-only reader."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
import yaml

from bftools.stack.valkey import ACL_FILE, SENTINEL_ACL_FILE, acl_rules
from tests.chart.conftest import VALUES, Render, env_of, render, render_error
from tests.chart.test_kafka_auth import password_values

#: A password's SHA-256 as Valkey's ACL takes it, and a password given literally to a directive.
HASH = re.compile(r"#[0-9a-fA-F]{64}")
LITERAL_SECRET = re.compile(r"(requirepass|masterauth|primaryauth|auth-pass|sentinel-pass)[ \t]+[^$\s]")
USERS = {"consumer", "reader", "monitor", "replica", "sentinel", "admin"}
SENTINEL_MODE = ("--set", "valkey.replicas=2", "--set", "global.valkey.sentinel.enabled=true")
#: Valkey's documented command set for Sentinel on the servers (REPLICAOF: SLAVEOF's new name).
SENTINEL_COMMANDS = {
    "+multi", "+exec", "+slaveof", "+replicaof", "+ping", "+subscribe", "+config|rewrite", "+role", "+publish",
    "+info", "+client|setname", "+client|kill", "+script|kill",
}  # fmt: skip
#: Which Valkey users' passwords each container may read (through env secretKeyRefs), and as whom it logs in.
CLIENTS = {
    "bf-consumer/consumer": ({"consumer"}, "consumer"),
    "bf-valkey-exporter/exporter": ({"monitor"}, "monitor"),
    "bf-test-smoke/smoke": ({"reader"}, "reader"),
    "bf-grafana/grafana": ({"reader"}, None),
    "bf-test-valkey/valkey": ({"reader", "monitor"}, None),
}


def rules(rendered: Render, key: str = "users.acl") -> dict[str, list[str]]:
    text = rendered.get("ConfigMap", "bf-valkey")["data"][key]
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, *rest = line.split()
            found[name] = rest
    return found


def valkey_refs(container: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Env name -> secretKeyRef of every entry read from a Valkey Secret."""
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {}) and "valkey" in e["valueFrom"]["secretKeyRef"]["name"]
    }


def test_each_user_may_do_its_job_and_no_more() -> None:
    users = rules(render())
    assert set(users) == USERS
    reader, consumer = users["reader"], users["consumer"]
    for rule in ("~bf:*", "-@all", "+@read", "-@dangerous"):  # bf: keys only, read-only, no KEYS / SORT
        assert rule in reader
    assert reader.index("-@dangerous") > reader.index("+@read")
    assert not [r for r in reader if r.startswith("+@") and r != "+@read"]
    assert not {"+@write", "+set", "+eval", "+evalsha", "+config", "+flushall", "~*", "&*"} & set(reader)
    for rule in ("~bf:*", "-@all", "+@read", "+@write", "-@dangerous", "+evalsha", "+script|load", "+time"):
        assert rule in consumer
    assert consumer.index("-@dangerous") > consumer.index("+@write")  # FLUSHALL, FLUSHDB, ... taken back
    assert not {"+@all", "+@admin", "+@dangerous", "+config", "~*", "&*"} & set(consumer)
    assert users["monitor"] == ["-@all", "+ping", "+info", "+role", "+client|setinfo"]  # no key at all
    assert users["replica"] == ["-@all", "+psync", "+replconf", "+ping"]
    assert users["sentinel"][:2] == ["&__sentinel__:hello", "-@all"]
    assert set(users["sentinel"][2:]) == SENTINEL_COMMANDS
    assert users["admin"] == ["~*", "&*", "+@all"]


def test_the_sentinels_tell_the_clients_only_where_the_primary_is() -> None:
    users = rules(render(*SENTINEL_MODE), "sentinel-users.acl")
    assert set(users) == USERS - {"replica"}
    for client in ("consumer", "reader"):
        granted = [r for r in users[client] if r.startswith("+")]
        allowed = ("+sentinel|", "+ping", "+client|setinfo", "+subscribe", "+psubscribe", "+uns", "+puns")
        assert all(r.startswith(allowed) for r in granted), granted
        assert "+sentinel|get-master-addr-by-name" in granted
        assert not {"+sentinel", "+sentinel|failover", "+sentinel|set", "+sentinel|reset", "+@all"} & set(granted)
    assert users["monitor"] == ["-@all", "+ping", "+client|setinfo"]


def test_the_local_stack_runs_the_charts_own_rules() -> None:
    rendered = render()
    assert rendered.get("ConfigMap", "bf-valkey")["data"]["users.acl"].strip() == ACL_FILE.read_text().strip()
    assert {name: rule.split() for name, rule in acl_rules().items()} == rules(rendered)
    assert {name: r.split() for name, r in acl_rules(SENTINEL_ACL_FILE).items()} == rules(
        rendered, "sentinel-users.acl"
    )


def test_every_client_logs_in_as_its_own_user() -> None:
    for args in ((), SENTINEL_MODE):
        rendered = render("--set", "global.monitoring.podMonitors.enabled=true", *args)
        containers = dict(rendered.containers())
        for name, container in containers.items():
            refs = valkey_refs(container)
            if name not in CLIENTS:
                assert not refs, f"{name} reads a Valkey password: {refs}"
                continue
            keys, user = CLIENTS[name]
            assert {ref["key"] for ref in refs.values()} == keys, name
            assert {ref["name"] for ref in refs.values()} == {"bf-valkey"}, name
            if user is not None:
                assert env_of(container)["VALKEY_USER"] == user, name
        # The Valkey pods read every password (they hash them into the ACL) from the Secret as files.
        pod = rendered.get("StatefulSet", "bf-valkey")["spec"]["template"]["spec"]
        [volume] = [v for v in pod["volumes"] if v["name"] == "users"]
        assert volume["secret"]["secretName"] == "bf-valkey"
        assert {item["key"] for item in volume["secret"]["items"]} == USERS
        assert volume["secret"]["defaultMode"] == 0o440
        for container in pod["containers"]:
            assert {"name": "users", "mountPath": "/etc/valkey/users", "readOnly": True} in container["volumeMounts"]
            assert not valkey_refs(container)
            for probe in ("livenessProbe", "readinessProbe"):
                command = container[probe]["exec"]["command"][-1]
                assert "--user monitor" in command
                assert 'REDISCLI_AUTH="$(cat /etc/valkey/users/monitor)"' in command


def test_the_secret_has_a_random_password_per_user_and_existing_secret_replaces_it() -> None:
    data = render().get("Secret", "bf-valkey")["data"]
    passwords = {user: base64.b64decode(value).decode() for user, value in data.items()}
    assert set(passwords) == USERS
    assert len(set(passwords.values())) == len(USERS)
    assert all(len(p) == 32 and p.isalnum() for p in passwords.values())
    existing = render("--set", "global.valkey.auth.existingSecret=my-valkey", *SENTINEL_MODE)
    assert not [s for s in existing.of_kind("Secret") if "valkey" in s["metadata"]["name"]]
    for name, container in existing.containers():
        assert {ref["name"] for ref in valkey_refs(container).values()} <= {"my-valkey"}, name
    pod = existing.get("StatefulSet", "bf-valkey")["spec"]["template"]["spec"]
    assert [v["secret"]["secretName"] for v in pod["volumes"] if v["name"] == "users"] == ["my-valkey"]


@pytest.mark.parametrize("args", [(), SENTINEL_MODE], ids=["standalone", "sentinel"])
def test_grafanas_data_source_reads_as_the_reader(args: tuple[str, ...]) -> None:
    rendered = render(*args)
    provisioning = rendered.get("ConfigMap", "bf-grafana-provisioning")["data"]["datasources.yaml"]
    source = yaml.safe_load(provisioning)["datasources"][0]
    assert source["jsonData"]["acl"] is True
    assert source["jsonData"]["user"] == "reader"
    assert source["secureJsonData"]["password"] == "$VALKEY_PASSWORD"  # Grafana expands it from its env
    env = env_of(dict(rendered.containers())["bf-grafana/grafana"])
    assert env["VALKEY_PASSWORD"] == {"secretKeyRef": {"name": "bf-valkey", "key": "reader"}}
    if args:
        assert source["jsonData"]["sentinelAcl"] is True
        assert source["jsonData"]["sentinelUser"] == "reader"
        assert source["secureJsonData"]["sentinelPassword"] == "$VALKEY_PASSWORD"


def test_the_helm_test_checks_the_reader_and_a_client_without_a_login_are_refused() -> None:
    pod = render().get("Pod", "bf-test-valkey")
    [container] = pod["spec"]["containers"]
    script = container["command"][-1]
    assert "valkey-cli --no-auth-warning --user reader" in script
    for refusal in (
        "refused reader reader set bf:sales:total 0",
        "refused reader reader hset bf:category:sales",
        "refused reader reader flushall",
        "refused reader reader config get",
        'refused "no login" anonymous set bf:sales:total 0',
    ):
        assert refusal in script
    assert "NOPERM*|NOAUTH*|WRONGPASS*" in script
    assert 'env -u REDISCLI_AUTH valkey-cli -h "$primary"' in script  # truly without a login
    assert "--user monitor" in script  # the replicas' INFO
    assert " set helm-test" not in script.lower()  # it writes nothing any more
    refs = valkey_refs(container)
    assert refs["READER_PASSWORD"]["key"] == "reader"
    assert refs["REDISCLI_AUTH"]["key"] == "monitor"


@pytest.mark.parametrize("values_file", sorted(p.name for p in VALUES.glob("*.yaml")))
def test_no_valkey_password_in_a_configmap_an_env_value_or_a_values_file(values_file: str) -> None:
    """Item 5 of issue 15, Valkey's share: passwords reach a container only by secretKeyRef or the Secret's
    volume; no ConfigMap holds one (nor a hash), no values file sets one."""
    assert password_values(yaml.safe_load((VALUES / values_file).read_text())) == []
    for args in ((), SENTINEL_MODE):
        rendered = render("-f", str(VALUES / values_file), *args)
        for name, container in rendered.containers():
            for entry in container.get("env", []):
                if entry["name"] in ("VALKEY_PASSWORD", "REDISCLI_AUTH", "READER_PASSWORD"):
                    assert set(entry) == {"name", "valueFrom"}, name
        for configmap in rendered.of_kind("ConfigMap"):
            data = yaml.safe_dump(configmap.get("data", {}))
            assert not HASH.search(data), configmap["metadata"]["name"]
            assert not LITERAL_SECRET.search(data), (configmap["metadata"]["name"], LITERAL_SECRET.search(data))
        for key in ("users.acl", "sentinel-users.acl"):
            for words in rules(rendered, key).values():
                assert not [w for w in words if w.startswith((">", "#", "<")) or w == "nopass"], words
        secret = [s for s in rendered.of_kind("Secret") if s["metadata"]["name"] == "bf-valkey"]
        assert secret
        assert secret[0]["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


TLS = ("--set", "global.valkey.tls.enabled=true", "--set", "global.valkey.tls.existingSecret=valkey-tls")


def test_tls_off_by_default_and_on_for_every_server_sentinel_and_client() -> None:
    plain = render(*SENTINEL_MODE, "--set", "monitoring.podMonitors.enabled=true")
    for name, container in plain.containers():
        env = env_of(container)
        assert not {"VALKEY_CA_FILE", "VALKEY_TLS_DIR", "VALKEY_CA_CERT"} & set(env), name
        assert "--tls" not in " ".join(container.get("command", [])), name
    rendered = render(*SENTINEL_MODE, *TLS, "--set", "monitoring.podMonitors.enabled=true")
    containers = dict(rendered.containers())
    ca_file = "/etc/black-friday/valkey-tls/ca.crt"
    for name in ("bf-consumer/consumer", "bf-valkey-exporter/exporter", "bf-test-smoke/smoke"):
        assert env_of(containers[name])["VALKEY_CA_FILE"] == ca_file, name
        assert {"name": "valkey-ca", "mountPath": ca_file.rsplit("/", 1)[0], "readOnly": True} in containers[name][
            "volumeMounts"
        ], name
    for name, spec in rendered.pod_specs():
        for volume in spec.get("volumes", []):
            if volume["name"] == "valkey-ca":  # clients get the CA, never the servers' key
                assert volume["secret"] == {
                    "secretName": "valkey-tls",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }, name
    pod = rendered.get("StatefulSet", "bf-valkey")["spec"]["template"]["spec"]
    [tls] = [v for v in pod["volumes"] if v["name"] == "tls"]
    assert tls["secret"]["secretName"] == "valkey-tls"
    assert {i["key"] for i in tls["secret"]["items"]} == {"tls.crt", "tls.key", "ca.crt"}
    for container in pod["containers"]:
        assert env_of(container)["VALKEY_TLS_DIR"] == "/etc/valkey/tls"
        assert "--tls --cacert /etc/valkey/tls/ca.crt" in container["readinessProbe"]["exec"]["command"][-1]
    scripts = rendered.get("ConfigMap", "bf-valkey")["data"]
    assert 'echo "tls-port $port"' in scripts["node.sh"]
    assert "tls-replication yes" in scripts["node.sh"]
    assert "tls-port $(field" in scripts["sentinel.sh"]
    script = containers["bf-test-valkey/valkey"]["command"][-1]
    assert script.count(f"--tls --cacert {ca_file} -p 6379") == script.count("-p 6379") > 3
    source = yaml.safe_load(rendered.get("ConfigMap", "bf-grafana-provisioning")["data"]["datasources.yaml"])
    valkey = source["datasources"][0]
    assert valkey["jsonData"]["tlsAuth"] is True
    assert valkey["secureJsonData"]["tlsCACert"] == "$VALKEY_CA_CERT"
    grafana = env_of(containers["bf-grafana/grafana"])
    assert grafana["VALKEY_CA_CERT"] == {"secretKeyRef": {"name": "valkey-tls", "key": "ca.crt"}}


def test_tls_without_a_certificate_and_a_password_in_the_values_are_refused() -> None:
    assert "global.valkey.tls.existingSecret" in render_error("--set", "global.valkey.tls.enabled=true")
    for name in ("VALKEY_PASSWORD", "REDISCLI_AUTH"):
        message = render_error("--set", f"consumer.extraEnv.{name}=s3cret")
        assert f"consumer.extraEnv.{name}: a Valkey password comes from a Secret" in message
