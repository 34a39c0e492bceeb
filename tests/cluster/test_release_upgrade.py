"""Changing the README's release: an upgrade changes exactly what its values change and a rollback restores it;
a volume size change is stopped at render with the way out, and leaves the release as it was."""

from __future__ import annotations

import pytest

from bftools.cluster import release as chart
from tests.cluster.releases import NAMESPACE, RELEASE, Releases, diff, manifest, ok, revision

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]


UPGRADE = (
    "--set", "writer.replicaCount=2",
    "--set", "api.autoscaling.maxReplicas=4",
    "--set", "api.autoscaling.targetCPUUtilizationPercentage=40",
    "--set", "bridge.autoscaling.maxReplicas=2",
)  # fmt: skip


def test_an_upgrade_changes_exactly_the_replicas_and_hpa_thresholds_and_a_rollback_restores_them(
    readme: Releases,
) -> None:
    kubeconfig = readme.info.kubeconfig
    objects = manifest(kubeconfig, RELEASE, NAMESPACE)
    before = readme.objects.snapshot(objects, NAMESPACE)
    start = revision(kubeconfig, RELEASE, NAMESPACE)[0]
    args = chart.readme_install(RELEASE, NAMESPACE, readme.info.values_file)
    ok(readme.helm("upgrade", *args, *UPGRADE, "--wait", "--timeout", "3m"), "helm upgrade")
    after = readme.objects.snapshot(manifest(kubeconfig, RELEASE, NAMESPACE), NAMESPACE)
    assert set(after) == set(before)
    changes = {f"{key} {path}": values for key, obj in before.items() for path, values in diff(obj, after[key]).items()}
    assert changes == {
        "Deployment/black-friday/bf-writer spec.replicas": (1, 2),
        "HorizontalPodAutoscaler/black-friday/bf-api spec.maxReplicas": (3, 4),
        "HorizontalPodAutoscaler/black-friday/bf-api spec.metrics[0].resource.target.averageUtilization": (30, 40),
        "HorizontalPodAutoscaler/black-friday/bf-bridge spec.maxReplicas": (3, 2),
    }

    ok(readme.helm("rollback", RELEASE, str(start), "-n", NAMESPACE, "--wait", "--timeout", "3m"), "helm rollback")
    assert readme.objects.snapshot(objects, NAMESPACE) == before
    assert revision(kubeconfig, RELEASE, NAMESPACE) == (start + 2, "deployed")


def test_a_volume_size_change_fails_at_render_with_the_way_out_and_leaves_the_release(readme: Releases) -> None:
    kubeconfig = readme.info.kubeconfig
    objects = manifest(kubeconfig, RELEASE, NAMESPACE)
    before = readme.objects.snapshot(objects, NAMESPACE)
    at = revision(kubeconfig, RELEASE, NAMESPACE)
    args = chart.readme_install(RELEASE, NAMESPACE, readme.info.values_file)
    # the upgrade from values/dev.yaml to values/prod.yaml (Valkey's volumes 1Gi -> 10Gi)
    done = readme.helm("upgrade", *args, "-f", str(chart.VALUES / "prod.yaml"))
    assert done.returncode != 0
    # the chart's own message, not the API server's "Forbidden: updates to statefulset spec"
    assert "valkey.persistence.size: the Valkey volumes were created with 1Gi" in done.stderr
    assert "(you asked for 10Gi)" in done.stderr
    assert "Keep --set valkey.persistence.size=1Gi" in done.stderr
    assert "kubectl delete statefulset bf-valkey --cascade=orphan" in done.stderr
    assert "Forbidden" not in done.stderr
    same_way = readme.helm("upgrade", *args, "--set", "valkey.persistence.size=1024Mi", "--dry-run=server")
    ok(same_way, "helm upgrade --dry-run=server with 1024Mi (the same size)")
    assert revision(kubeconfig, RELEASE, NAMESPACE) == at
    assert readme.objects.snapshot(objects, NAMESPACE) == before
