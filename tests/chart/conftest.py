"""Chart tests: the real helm (built by scripts/setup helm) renders charts/black-friday."""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

CHART = ROOT / "charts" / "black-friday"
#: Built by scripts/setup helm.
HELM = ROOT / ".cache" / "bin" / "helm"
VALUES = ROOT / "values"
KUBE_VERSION = "1.33.0"
STRIMZI = "kafka.strimzi.io/v1/Kafka"
#: KEDA's ScaledObject (the consumer's lagScaling checks the cluster serves it).
KEDA = "keda.sh/v1alpha1/ScaledObject"
#: What a cluster with the Strimzi operator serves, as helm template's --api-versions flags.
STRIMZI_APIS = ("--api-versions", STRIMZI, "--api-versions", "kafka.strimzi.io/v1/KafkaUser")
ENVIRONMENTS = ["default", "dev", "prod"]

pytestmark = pytest.mark.chart


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"helm is not installed at {HELM}: run scripts/setup helm")
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120, check=False)


def values_args(environment: str) -> list[str]:
    return [] if environment == "default" else ["-f", str(VALUES / f"{environment}.yaml")]


@dataclass(frozen=True)
class Render:
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert found, (
            f"no {kind} {name} in the render: {sorted((o['kind'], o['metadata']['name']) for o in self.objects)}"
        )
        return found[0]

    def pod_specs(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(object name, pod spec) of every workload and test pod."""
        for obj in self.objects:
            if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
                yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]
            elif obj["kind"] == "Pod":
                yield obj["metadata"]["name"], obj["spec"]

    def containers(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, spec in self.pod_specs():
            for container in spec.get("initContainers", []) + spec["containers"]:
                yield f"{name}/{container['name']}", container


@functools.lru_cache(maxsize=64)
def _render(args: tuple[str, ...]) -> tuple[int, str, str]:
    done = helm("template", "bf", str(CHART), "--namespace", "shop", "--kube-version", KUBE_VERSION, *args)
    return done.returncode, done.stdout, done.stderr


def _render_text(args: tuple[str, ...], environment: str, strimzi: bool) -> str:
    """helm template's output with a values file and extra flags; fails the test with helm's error."""
    code, out, err = _render(_flags(args, environment, strimzi))
    if code != 0:
        pytest.fail(f"helm template failed:\n{err}")
    return out


def _flags(args: tuple[str, ...], environment: str, strimzi: bool) -> tuple[str, ...]:
    return (*values_args(environment), *(STRIMZI_APIS if strimzi else ()), "--api-versions", KEDA, *args)


def render(*args: str, environment: str = "default", strimzi: bool = True) -> Render:
    """helm template with a values file and extra flags; fails the test with helm's error."""
    return Render([doc for doc in yaml.safe_load_all(_render_text(args, environment, strimzi)) if doc])


def kinds_by_template(environment: str = "default") -> dict[str, set[str]]:
    """The kinds each template file renders (``charts/api/templates/deployment.yaml``: {"Deployment"}): helm
    heads every document with the file it came from (``# Source: black-friday/charts/...``)."""
    kinds: dict[str, set[str]] = {}
    for document in _render_text((), environment, True).split("\n---\n"):
        source = re.search(r"^# Source: [^/]+/(\S+)$", document, re.MULTILINE)
        parsed = yaml.safe_load(document)
        if source and parsed:
            kinds.setdefault(source.group(1), set()).add(parsed["kind"])
    return kinds


def render_error(*args: str, environment: str = "default", strimzi: bool = True) -> str:
    """helm template that must fail; its error message."""
    code, _out, err = _render(_flags(args, environment, strimzi))
    assert code != 0, f"helm template succeeded but should have failed with {args}"
    return err


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}
