"""What the chart says about itself (Chart.yaml, its README) is what it does: the images Artifact Hub lists are
the ones it renders, and its subcharts' descriptions say how they render."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.chart.conftest import CHART, HELM, KUBE_VERSION, render
from tests.conftest import ROOT

pytestmark = pytest.mark.chart

CHART_YAML = yaml.safe_load((CHART / "Chart.yaml").read_text())
SUBCHARTS = ["api", "bridge", "writer", "consumer", "kafka", "valkey", "grafana"]


def images(*args: str) -> set[str]:
    return {container["image"] for _, container in render(*args).containers()}


def test_the_images_artifact_hub_lists_are_those_the_chart_renders() -> None:
    """Every image of the default render, and oras, which only pulls Grafana's plugin from an OCI registry."""
    listed = yaml.safe_load(CHART_YAML["annotations"]["artifacthub.io/images"])
    announced = {entry["image"] for entry in listed}
    assert len(announced) == len(listed), "an image is listed twice"
    default = images()
    with_oci_plugin = images(
        "--set", "grafana.redisPlugin.source=oci", "--set", "grafana.redisPlugin.ociReference=zot:5000/plugins/redis:1"
    )
    assert default <= announced
    assert announced == default | with_oci_plugin
    for entry in listed:
        assert entry["image"].rsplit("/", 1)[-1].startswith(entry["name"] + ":"), entry
    assert f"black-friday:{CHART_YAML['appVersion']}" in announced


def test_chart_yaml_has_what_artifact_hub_and_helm_show_chart_display() -> None:
    annotations = CHART_YAML["annotations"]
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    for link in yaml.safe_load(annotations["artifacthub.io/links"]):
        assert set(link) == {"name", "url"}, link
        assert link["url"].startswith("https://"), link
    assert CHART_YAML["home"].startswith("https://")
    assert CHART_YAML["sources"]
    assert all(s.startswith("https://") for s in CHART_YAML["sources"])
    assert all(m.get("name") and m.get("email") for m in CHART_YAML["maintainers"])
    assert CHART_YAML["keywords"]


@pytest.mark.parametrize("subchart", SUBCHARTS)
def test_a_subchart_renders_only_within_the_umbrella_and_says_so(subchart: str) -> None:
    """The README's "The subcharts" and each description say why; if one comes to render alone, say so there."""
    path = CHART / "charts" / subchart
    done = subprocess.run(
        [str(HELM), "template", "x", str(path), "--kube-version", KUBE_VERSION],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "error calling include" in done.stderr
    description = yaml.safe_load((path / "Chart.yaml").read_text())["description"]
    assert "a subchart of black-friday, rendered only within it" in description
    assert f"`{subchart}`" in (CHART / "README.md").read_text().split("## The subcharts", 1)[1].split("##", 1)[0]


def test_push_images_plans_the_chart_push_and_prints_the_oci_install() -> None:
    """--dry-run shows the chart packaged and pushed to oci://<registry>/charts, and the helm install from there."""

    def dry_run(*extra: str) -> str:
        done = subprocess.run(
            [str(ROOT / "scripts" / "push-images"), "--registry", "10.1.2.3:5000", "--tag", "t1", "--dry-run", *extra],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    version = CHART_YAML["version"]
    planned = dry_run("--insecure")
    assert f"  push    chart black-friday-{version}.tgz -> oci://10.1.2.3:5000/charts/black-friday:{version}" in planned
    assert (
        f"helm install bf oci://10.1.2.3:5000/charts/black-friday --version {version} --plain-http -f values/dev.yaml "
        "--set global.imageRegistry=10.1.2.3:5000 --set global.imageTag=t1"
    ) in planned
    assert "--plain-http" not in dry_run()
    assert "chart" not in dry_run("--no-chart")
