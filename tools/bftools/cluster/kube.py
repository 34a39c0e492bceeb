"""The kubernetes Python client on the local cluster: a configured ApiClient, server-side apply of plain
manifests, and bounded waits on what the API says."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from bftools.cluster.config import APISERVER_URL, ClusterError, Layout

FIELD_MANAGER = "black-friday-cluster"
#: The resource (plural) of each kind the harness applies.
PLURALS = {
    "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "Service": "services",
    "Deployment": "deployments",
    "DaemonSet": "daemonsets",
    "StatefulSet": "statefulsets",
    "Pod": "pods",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "APIService": "apiservices",
    "StorageClass": "storageclasses",
    "ResourceQuota": "resourcequotas",
    "CustomResourceDefinition": "customresourcedefinitions",
    "IngressClass": "ingressclasses",
    "GatewayClass": "gatewayclasses",
    "Gateway": "gateways",
}
#: What a failing call raises when the apiserver is down or unreachable.
UNREACHABLE = (ApiException, HTTPError, OSError)


def configuration(layout: Layout) -> client.Configuration:
    """The admin identity (system:masters) over the veth, verified against the cluster CA."""
    pki = layout.pki
    config = client.Configuration(
        host=APISERVER_URL,
        ssl_ca_cert=str(pki / "ca.crt"),
        cert_file=str(pki / "admin.crt"),
        key_file=str(pki / "admin.key"),
    )
    config.retries = 0
    return config


def api_client(layout: Layout) -> client.ApiClient:
    return client.ApiClient(configuration(layout))


def request(
    api: client.ApiClient,
    method: str,
    path: str,
    *,
    body: Any = None,
    content_type: str | None = None,
    timeout: float = 10,
) -> tuple[int, str]:
    """A raw call (e.g. GET /readyz); the status and the body's text. Transport errors propagate."""
    headers = {"Accept": "application/json, */*"}
    if content_type:
        headers["Content-Type"] = content_type
    response = api.call_api(method, APISERVER_URL + path, header_params=headers, body=body, _request_timeout=timeout)
    data: bytes = response.response.data  # the urllib3 response's body (RESTResponse.read is untyped)
    return int(response.status), (data or b"").decode(errors="replace")


def readyz(api: client.ApiClient, timeout: float = 5) -> bool:
    try:
        status, text = request(api, "GET", "/readyz", timeout=timeout)
    except UNREACHABLE:
        return False
    return status == 200 and text.strip() == "ok"


def resource_path(manifest: Mapping[str, Any]) -> str:
    api_version = str(manifest["apiVersion"])
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    metadata = manifest["metadata"]
    namespace = metadata.get("namespace")
    kind = str(manifest["kind"])
    if kind not in PLURALS:
        raise ClusterError(f"this harness cannot apply a {kind} (kube.PLURALS has no resource name for it)")
    plural = PLURALS[kind]
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{scope}/{plural}/{metadata['name']}"


def apply(api: client.ApiClient, manifest: Mapping[str, Any], timeout: float = 20) -> None:
    """Server-side apply (create or update, idempotent) of one manifest."""
    path = resource_path(manifest) + f"?fieldManager={FIELD_MANAGER}&force=true"
    status, text = request(
        api, "PATCH", path, body=dict(manifest), content_type="application/apply-patch+yaml", timeout=timeout
    )
    if status >= 300:
        try:
            message = str(json.loads(text).get("message", text))
        except ValueError:
            message = text
        what = f"{manifest['kind']} {manifest['metadata'].get('namespace', '')}/{manifest['metadata']['name']}"
        raise ClusterError(f"applying {what} failed ({status}): {message}")


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 1.0) -> None:
    """Poll ``condition`` (errors reaching the apiserver count as not yet); ClusterError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except UNREACHABLE:
            pass
        if time.monotonic() >= deadline:
            raise ClusterError(f"{what} was not ready after {timeout:.0f}s")
        time.sleep(interval)


def node_ready(api: client.ApiClient, name: str) -> bool:
    node = client.CoreV1Api(api).read_node(name, _request_timeout=5)
    conditions = node.status.conditions if node.status and node.status.conditions else []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def deployment_ready(api: client.ApiClient, namespace: str, name: str) -> bool:
    deployment = client.AppsV1Api(api).read_namespaced_deployment(name, namespace, _request_timeout=5)
    want = deployment.spec.replicas if deployment.spec and deployment.spec.replicas is not None else 1
    ready = deployment.status.ready_replicas if deployment.status else None
    return (ready or 0) >= want


def daemonset_ready(api: client.ApiClient, namespace: str, name: str) -> bool:
    daemonset = client.AppsV1Api(api).read_namespaced_daemon_set(name, namespace, _request_timeout=5)
    status = daemonset.status
    return (
        status is not None
        and status.desired_number_scheduled > 0
        and (status.number_ready or 0) >= (status.desired_number_scheduled)
    )


def crd_established(api: client.ApiClient, name: str) -> bool:
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(name, _request_timeout=10)
    conditions = crd.status.conditions if crd.status and crd.status.conditions else []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def apply_crds(api: client.ApiClient, manifests: list[dict[str, Any]], what: str, timeout: float = 60) -> None:
    """CustomResourceDefinitions applied, then waited for until Established."""
    names = []
    for crd in manifests:
        apply(api, crd, timeout=60)
        names.append(str(crd["metadata"]["name"]))
    wait_until(lambda: all(crd_established(api, name) for name in names), timeout, what)


def apiservice_available(api: client.ApiClient, name: str) -> bool:
    service = client.ApiregistrationV1Api(api).read_api_service(name, _request_timeout=5)
    conditions = service.status.conditions if service.status and service.status.conditions else []
    return any(c.type == "Available" and c.status == "True" for c in conditions)
