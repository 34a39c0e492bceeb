"""`helm uninstall` of the README's release leaves only what the README says stays, and the README's install,
run again, finds it."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client

from bftools.cluster import release as chart
from tests.cluster.releases import NAMESPACE, RELEASE, Releases, manifest, ok, wait

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]


def test_uninstall_leaves_only_the_secret_and_the_valkey_claims_and_a_reinstall_finds_the_data(
    readme: Releases,
) -> None:
    """What the README says stays: the Valkey password's Secret (helm.sh/resource-policy: keep) and the
    StatefulSet's claims (data-bf-valkey-N); the README's install, run again, finds them: the same password,
    and the figures counted before."""
    kubeconfig = readme.info.kubeconfig
    objects = manifest(kubeconfig, RELEASE, NAMESPACE)
    password = chart.valkey_env(readme.api, NAMESPACE, RELEASE)["VALKEY_PASSWORD"]  # the reader's
    if chart.report(readme.api, NAMESPACE, RELEASE)["total_sales"] == 0:  # no test has posted a sale yet
        sale = {"categoria": "Hogar", "producto_id": "kept", "precio": 10.0, "cantidad_vendida": 1}
        assert chart.post_sale(readme.api, NAMESPACE, RELEASE, sale)[0] == 201
        wait(lambda: chart.report(readme.api, NAMESPACE, RELEASE)["total_sales"] == 1, 30, "the sale counted")
    figures = chart.report(readme.api, NAMESPACE, RELEASE)
    out = readme.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "3m")
    ok(out, "helm uninstall")
    assert "[Secret] bf-valkey" in out.stdout + out.stderr
    left = [f"{o['kind']}/{o['metadata']['name']}" for o in objects if readme.objects.get(o, NAMESPACE) is not None]
    assert left == ["Secret/bf-valkey"]
    core = client.CoreV1Api(readme.api)
    claims = {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(NAMESPACE).items if c.metadata}
    assert claims == {"data-bf-valkey-0", "data-bf-valkey-1"}
    selector = f"{chart.INSTANCE}={RELEASE}"
    labelled = {
        f"{kind}/{item.metadata.name}"
        for kind, items in (
            ("Secret", core.list_namespaced_secret(NAMESPACE, label_selector=selector).items),
            (
                "PersistentVolumeClaim",
                core.list_namespaced_persistent_volume_claim(NAMESPACE, label_selector=selector).items,
            ),
        )
        for item in items
        if item.metadata
    }
    # what the README's clean-up command (kubectl delete secret,pvc -l app.kubernetes.io/instance=bf) removes
    assert labelled == {
        "Secret/bf-valkey",
        "PersistentVolumeClaim/data-bf-valkey-0",
        "PersistentVolumeClaim/data-bf-valkey-1",
    }
    kept = core.read_namespaced_secret("bf-valkey", NAMESPACE, _request_timeout=10)
    assert base64.b64decode((kept.data or {})["reader"]).decode() == password

    again = readme.helm("install", *chart.readme_install(RELEASE, NAMESPACE, readme.info.values_file), "--wait")
    ok(again, "the README's helm install, again")
    assert chart.valkey_env(readme.api, NAMESPACE, RELEASE)["VALKEY_PASSWORD"] == password
    assert chart.report(readme.api, NAMESPACE, RELEASE) == figures
