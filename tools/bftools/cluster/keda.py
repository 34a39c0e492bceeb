"""KEDA on the local cluster (what values/prod.yaml's consumer scaling needs): its own manifests, the
`config/minimal` kustomization of its module (CRDs, RBAC, the operator, the metrics adapter and its
APIService), rendered by the cluster's kubectl, with the images replaced by ours: FROM scratch + the operator
and adapter that `scripts/setup keda` built from the Go module proxy. The operator makes the adapter's
certificates itself (--enable-cert-rotation), as upstream.

Installed on demand (make cluster-lag), not by `make cluster-up`: nothing else on the cluster needs it."""

from __future__ import annotations

import functools
import subprocess
import time
from collections.abc import Callable
from typing import Any, Final

import yaml
from kubernetes import client

from bftools.cluster import images, kube
from bftools.cluster.config import REGISTRY, ClusterError, Layout, MissingPrerequisite
from bftools.runtime import paths

NAMESPACE: Final = "keda"
OPERATOR: Final = "keda-operator"
ADAPTER: Final = "keda-metrics-apiserver"
EXTERNAL_METRICS: Final = "v1beta1.external.metrics.k8s.io"
#: Deployment -> the binary of `scripts/setup keda` its container runs.
BINARIES: Final = {OPERATOR: "keda-operator", ADAPTER: "keda-adapter"}
#: Where each kind of the kustomization goes first: CRDs before what uses them, the APIService last.
ORDER: Final = ("CustomResourceDefinition", "Namespace")

Say = Callable[[str], None]
Manifest = dict[str, Any]


def version() -> str:
    return paths.MONITORING_VERSIONS["KEDA_VERSION"]


def image(deployment: str) -> str:
    return f"{REGISTRY}/keda/{deployment}:{version()}"


def manifests(layout: Layout) -> list[Manifest]:
    """KEDA's config/minimal, rendered by kubectl kustomize, on our images (pulled once: IfNotPresent)."""
    try:
        config = paths.keda_config()
    except paths.MissingTool as exc:
        raise MissingPrerequisite(str(exc)) from None
    done = subprocess.run(
        [str(layout.binary("kubectl")), "kustomize", str(config / "minimal")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise ClusterError(f"kubectl kustomize {config / 'minimal'} failed: {done.stderr.strip()[-300:]}")
    objects: list[Manifest] = [o for o in yaml.safe_load_all(done.stdout) if o]
    for obj in objects:
        if obj["kind"] == "Deployment":
            name = obj["metadata"]["name"]
            if name not in BINARIES:
                raise ClusterError(f"KEDA's manifests have a Deployment {name} this harness does not know")
            [container] = obj["spec"]["template"]["spec"]["containers"]
            container["image"] = image(name)
            container["command"] = [f"/{BINARIES[name]}"]
            container["imagePullPolicy"] = "IfNotPresent"
    return sorted(objects, key=lambda o: ORDER.index(o["kind"]) if o["kind"] in ORDER else len(ORDER))


def build_images(say: Say) -> None:
    """The operator's and the adapter's images in the cluster's registry (FROM scratch + the binary)."""
    for deployment, binary in BINARIES.items():
        reference = image(deployment)
        if images.present(reference):
            continue
        try:
            built = paths.keda_binary(binary)
        except paths.MissingTool as exc:
            raise MissingPrerequisite(str(exc)) from None
        say(f"building {reference} (FROM scratch + {binary})")
        images.scratch_image(built, reference, user="1000:1000")


def install(api: client.ApiClient, layout: Layout, say: Say) -> None:
    """KEDA applied (idempotent) and serving external metrics."""
    build_images(say)
    objects = manifests(layout)
    started = time.monotonic()
    kube.apply_crds(api, [o for o in objects if o["kind"] == "CustomResourceDefinition"], "KEDA's CRDs")
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        if obj["kind"] not in kube.PLURALS:
            raise ClusterError(f"KEDA's manifests have a {obj['kind']}, which this harness cannot apply")
        kube.apply(api, obj, timeout=60)
    for deployment in BINARIES:
        ready = functools.partial(kube.deployment_ready, api, NAMESPACE, deployment)
        kube.wait_until(ready, 180, f"KEDA's {deployment}")
    kube.wait_until(lambda: kube.apiservice_available(api, EXTERNAL_METRICS), 120, "KEDA's external metrics API")
    say(f"KEDA {version()} ready: operator and metrics adapter ({time.monotonic() - started:.0f}s)")
