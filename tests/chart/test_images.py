"""Images: one helper makes every image reference, honours the global registry and tag, and
scripts/push-images pushes exactly what the chart pulls."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.chart.conftest import CHART, ENVIRONMENTS, render
from tests.conftest import ROOT

pytestmark = pytest.mark.chart


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--set", "grafana.redisPlugin.source=oci", "--set", "grafana.redisPlugin.ociReference=x/plugins/redis:2.2.0"],
        ["--set", "grafana.redisPlugin.source=url", "--set", "grafana.redisPlugin.url=http://files/redis.zip"],
    ],
    ids=["default", "oci-plugin", "url-plugin"],
)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_global_registry_reaches_every_image(environment: str, extra: list[str]) -> None:
    rendered = render("--set", "global.imageRegistry=10.1.2.3:5000", *extra, environment=environment)
    images = {name: c["image"] for name, c in rendered.containers()}
    assert len(images) >= 8
    wrong = {name: image for name, image in images.items() if not image.startswith("10.1.2.3:5000/")}
    assert not wrong
    if extra:
        assert any("install-redis-plugin" in name for name in images)


def test_images_are_pinned_and_tagged_from_values() -> None:
    rendered = render("--set", "global.imageRegistry=zot:5000", "--set", "global.imageTag=abc1234")
    images = {name: c["image"] for name, c in rendered.containers()}
    assert images["bf-api/api"] == "zot:5000/black-friday:abc1234"
    assert images["bf-test-smoke/smoke"] == "zot:5000/black-friday:abc1234"
    assert images["bf-valkey/valkey"] == "zot:5000/valkey/valkey:8.1.4"
    assert images["bf-grafana/grafana"] == "zot:5000/grafana/grafana:12.1.2"
    digest = "sha256:" + "a" * 64
    pinned = render("--set", f"api.image.digest={digest}")
    assert {name: c["image"] for name, c in pinned.containers()}["bf-api/api"] == f"black-friday@{digest}"


def test_no_literal_image_outside_the_helper() -> None:
    literal = re.compile(r"^\s*image:(?!\s*\{\{)")
    offenders = [
        f"{path.relative_to(CHART)}:{number}"
        for path in CHART.rglob("templates/*")
        if path.is_file()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if literal.match(line)
    ]
    assert not offenders
    helper_calls = [
        line
        for path in CHART.rglob("templates/*")
        if path.is_file()
        for line in path.read_text().splitlines()
        if re.match(r"^\s*image:", line)
    ]
    assert helper_calls
    assert all('include "bf.image"' in line or 'include "black-friday.appImage"' in line for line in helper_calls)


def test_push_images_dry_run_lists_every_image_the_chart_pulls() -> None:
    flags = (
        "--set",
        "global.imageTag=t1",
        "--set",
        "grafana.redisPlugin.source=oci",
        "--set",
        "grafana.redisPlugin.ociReference=10.1.2.3:5000/grafana-plugins/redis-datasource:2.2.0",
    )
    pulled = {c["image"] for _, c in render("--set", "global.imageRegistry=10.1.2.3:5000", *flags).containers()}
    done = subprocess.run(
        [str(ROOT / "scripts" / "push-images"), "--registry", "10.1.2.3:5000", "--tag", "t1", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    planned = set(re.findall(r"^  (?:push|mirror) .*?(\S+)$", done.stdout, re.M))
    planned = {p.split(" -> ")[-1] for p in planned if not p.startswith("oci")}
    assert pulled == planned
    assert "--set global.imageRegistry=10.1.2.3:5000 --set global.imageTag=t1" in done.stdout
