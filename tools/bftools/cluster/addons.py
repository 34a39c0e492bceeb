"""The cluster's add-ons, applied with the kubernetes client: CoreDNS (cluster DNS), metrics-server (the
resource metrics API behind `kubectl top` and the HPAs), what kube-router's identity may read (its firewall
enforces the NetworkPolicies) and the default StorageClass of the harness's hostPath provisioner."""

from __future__ import annotations

from typing import Any

import yaml

from bftools.cluster.config import (
    CLUSTER_DOMAIN,
    DNS_SERVICE_IP,
    PROVISIONER_NAME,
    STORAGE_CLASS,
    MissingPrerequisite,
)
from bftools.runtime import paths

Manifest = dict[str, Any]

COREFILE = f"""\
.:53 {{
    errors
    health {{
        lameduck 5s
    }}
    ready
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }}
    prometheus :9153
    cache 30
    loop
    reload
    loadbalance
}}
"""
#: No `forward`: nothing in the cluster's namespace may reach an outside resolver.

SYSTEM = "kube-system"
LABELS_DNS = {"k8s-app": "kube-dns"}
LABELS_METRICS = {"k8s-app": "metrics-server"}
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def _meta(name: str, namespace: str | None = SYSTEM, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return meta


def storage_class() -> list[Manifest]:
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": STORAGE_CLASS,
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": PROVISIONER_NAME,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        }
    ]


def coredns(image: str) -> list[Manifest]:
    rules = [
        {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ]
    pod_spec = {
        "serviceAccountName": "coredns",
        "priorityClassName": "system-cluster-critical",
        "dnsPolicy": "Default",
        "containers": [
            {
                "name": "coredns",
                "image": image,
                "args": ["-conf", "/etc/coredns/Corefile"],
                "ports": [
                    {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
                ],
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                "securityContext": {**RESTRICTED, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
                "livenessProbe": {
                    "httpGet": {"path": "/health", "port": 8080},
                    "initialDelaySeconds": 10,
                    "periodSeconds": 10,
                },
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("coredns")},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta("system:coredns", None),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta("system:coredns", None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": SYSTEM}],
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("coredns"), "data": {"Corefile": COREFILE}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta("coredns", labels=LABELS_DNS),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": LABELS_DNS},
                "template": {"metadata": {"labels": LABELS_DNS}, "spec": pod_spec},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("kube-dns", labels={**LABELS_DNS, "kubernetes.io/name": "CoreDNS"}),
            "spec": {
                "selector": LABELS_DNS,
                "clusterIP": DNS_SERVICE_IP,
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
            },
        },
    ]


def metrics_server(image: str) -> list[Manifest]:
    """metrics-server as its upstream manifest sets it up, but checking the kubelets' serving certificates
    against the cluster CA (the kube-root-ca.crt ConfigMap every namespace gets) instead of skipping TLS."""
    rbac = "rbac.authorization.k8s.io/v1"
    pod_spec = {
        "serviceAccountName": "metrics-server",
        "priorityClassName": "system-cluster-critical",
        "containers": [
            {
                "name": "metrics-server",
                "image": image,
                "args": [
                    "--cert-dir=/tmp",
                    "--secure-port=10250",
                    "--kubelet-preferred-address-types=InternalIP",
                    "--kubelet-use-node-status-port",
                    "--kubelet-certificate-authority=/etc/cluster-ca/ca.crt",
                    "--metric-resolution=15s",
                ],
                "ports": [{"name": "https", "containerPort": 10250, "protocol": "TCP"}],
                "readinessProbe": {
                    "httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"},
                    "periodSeconds": 5,
                    "failureThreshold": 3,
                },
                "livenessProbe": {
                    "httpGet": {"path": "/livez", "port": "https", "scheme": "HTTPS"},
                    "periodSeconds": 10,
                    "failureThreshold": 3,
                },
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                "securityContext": {**RESTRICTED, "runAsNonRoot": True, "runAsUser": 1000},
                "volumeMounts": [
                    {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (a path in the container)
                    {"name": "cluster-ca", "mountPath": "/etc/cluster-ca", "readOnly": True},
                ],
            }
        ],
        "volumes": [
            {"name": "tmp", "emptyDir": {}},
            {"name": "cluster-ca", "configMap": {"name": "kube-root-ca.crt"}},
        ],
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("metrics-server", labels=LABELS_METRICS)},
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": _meta(
                "system:aggregated-metrics-reader",
                None,
                {
                    **LABELS_METRICS,
                    "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                    "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                    "rbac.authorization.k8s.io/aggregate-to-view": "true",
                },
            ),
            "rules": [
                {"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}
            ],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": _meta("system:metrics-server", None, LABELS_METRICS),
            "rules": [
                {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
            ],
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": _meta("metrics-server-auth-reader", labels=LABELS_METRICS),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "extension-apiserver-authentication-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "metrics-server", "namespace": SYSTEM}],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": _meta("metrics-server:system:auth-delegator", None, LABELS_METRICS),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:auth-delegator",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "metrics-server", "namespace": SYSTEM}],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": _meta("system:metrics-server", None, LABELS_METRICS),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:metrics-server",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "metrics-server", "namespace": SYSTEM}],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("metrics-server", labels=LABELS_METRICS),
            "spec": {
                "selector": LABELS_METRICS,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta("metrics-server", labels=LABELS_METRICS),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": LABELS_METRICS},
                "template": {"metadata": {"labels": LABELS_METRICS}, "spec": pod_spec},
            },
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": _meta("v1beta1.metrics.k8s.io", None, LABELS_METRICS),
            "spec": {
                "service": {"name": "metrics-server", "namespace": SYSTEM},
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                # metrics-server serves a self-signed certificate (as in its upstream manifest)
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]


def kube_router_rbac() -> list[Manifest]:
    """What kube-router's firewall reads (its upstream ClusterRole, less the router's leases), bound to the
    identity of its kubeconfig (pki: system:kube-router)."""
    rbac = "rbac.authorization.k8s.io/v1"
    read = ["get", "list", "watch"]
    return [
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": _meta("system:kube-router", None),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["namespaces", "pods", "services", "nodes", "endpoints"],
                    "verbs": read,
                },
                {
                    "apiGroups": ["networking.k8s.io"],
                    "resources": ["networkpolicies"],
                    "verbs": ["get", "list", "watch"],
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
            ],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": _meta("system:kube-router", None),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:kube-router"},
            "subjects": [{"kind": "User", "name": "system:kube-router", "apiGroup": "rbac.authorization.k8s.io"}],
        },
    ]


def edge_crds() -> list[Manifest]:
    """Traefik's CRDs (its Middleware: the chart's rate limit) and the Gateway API's standard channel
    (HTTPRoute), as `scripts/setup monitoring` fetched them from their modules."""
    try:
        files = [paths.edge_crds("traefik"), paths.edge_crds("gateway-api")]
    except paths.MissingTool as exc:
        raise MissingPrerequisite(str(exc)) from None
    return [crd for path in files for crd in yaml.safe_load_all(path.read_text()) if crd]


TRAEFIK_NAMESPACE = "traefik"
LABELS_TRAEFIK = {"app.kubernetes.io/name": "traefik"}
#: The Gateway the chart's HTTPRoute attaches to (httpRoute.parentRefs: [{name: edge, namespace: traefik}]).
GATEWAY_NAME = "edge"
#: Traefik's ping (its readiness) on the node.
TRAEFIK_PING_PORT = 9100


def traefik(image: str) -> list[Manifest]:
    """Traefik as the cluster's edge: on the node's network (hostNetwork), its entry point `web` on the node's
    port 80, serving Ingresses of the class `traefik` (with Traefik's CRDs: the chart's rate-limit
    Middleware) and the Gateway API (the GatewayClass `traefik`, the Gateway `edge` in the namespace traefik,
    listening on port 80 for routes of every namespace). Its CRDs and the Gateway API's are applied first
    (cluster.py)."""
    rbac = "rbac.authorization.k8s.io/v1"
    read = ["get", "list", "watch"]
    gateway_kinds = ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants", "backendtlspolicies"]
    rules = [
        {"apiGroups": [""], "resources": ["services", "secrets", "nodes", "configmaps", "namespaces"], "verbs": read},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "ingressclasses"], "verbs": read},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses/status"], "verbs": ["update"]},
        {
            "apiGroups": ["traefik.io"],
            "resources": [
                "middlewares",
                "middlewaretcps",
                "ingressroutes",
                "traefikservices",
                "ingressroutetcps",
                "ingressrouteudps",
                "tlsoptions",
                "tlsstores",
                "serverstransports",
                "serverstransporttcps",
            ],
            "verbs": read,
        },
        {
            "apiGroups": ["gateway.networking.k8s.io"],
            "resources": [
                "gatewayclasses",
                "gateways",
                "httproutes",
                "grpcroutes",
                "referencegrants",
                "backendtlspolicies",
            ],
            "verbs": read,
        },
        {
            "apiGroups": ["gateway.networking.k8s.io"],
            "resources": [f"{kind}/status" for kind in gateway_kinds],
            "verbs": ["update"],
        },
    ]
    pod_spec = {
        "serviceAccountName": "traefik",
        "hostNetwork": True,
        "dnsPolicy": "ClusterFirstWithHostNet",
        "containers": [
            {
                "name": "traefik",
                "image": image,
                "args": [
                    "--entryPoints.web.address=:80",
                    f"--entryPoints.traefik.address=:{TRAEFIK_PING_PORT}",
                    "--ping=true",
                    "--ping.entryPoint=traefik",
                    "--providers.kubernetesingress=true",
                    "--providers.kubernetescrd=true",
                    "--providers.kubernetesgateway=true",
                    "--log.level=INFO",
                    "--global.checkNewVersion=false",
                    "--global.sendAnonymousUsage=false",
                ],
                "ports": [{"name": "web", "containerPort": 80, "hostPort": 80, "protocol": "TCP"}],
                "readinessProbe": {
                    "httpGet": {"path": "/ping", "port": TRAEFIK_PING_PORT},
                    "periodSeconds": 2,
                    "failureThreshold": 3,
                },
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                # root only to bind the node's port 80; nothing else
                "securityContext": {
                    **RESTRICTED,
                    "runAsUser": 0,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                },
            }
        ],
    }
    meta = {"namespace": TRAEFIK_NAMESPACE, "labels": LABELS_TRAEFIK}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TRAEFIK_NAMESPACE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "traefik", **meta}},
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": _meta("traefik", None), "rules": rules},
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": _meta("traefik", None),
            "roleRef": {"apiGroup": rbac.split("/")[0], "kind": "ClusterRole", "name": "traefik"},
            "subjects": [{"kind": "ServiceAccount", "name": "traefik", "namespace": TRAEFIK_NAMESPACE}],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "traefik"},
            "spec": {"controller": "traefik.io/ingress-controller"},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": {"name": "traefik"},
            "spec": {"controllerName": "traefik.io/gateway-controller"},
        },
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": GATEWAY_NAME, "namespace": TRAEFIK_NAMESPACE},
            "spec": {
                "gatewayClassName": "traefik",
                "listeners": [
                    {"name": "web", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}
                ],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "traefik", **meta},
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},  # one node, one port 80
                "selector": {"matchLabels": LABELS_TRAEFIK},
                "template": {"metadata": {"labels": LABELS_TRAEFIK}, "spec": pod_spec},
            },
        },
    ]
