"""The chart on the local cluster: helm with the cluster's kubeconfig, and a release's pipeline used from
inside the cluster's network namespace (a sale through the api Service, the dashboard's figures from the
in-cluster Valkey), the way `make report` reads the local stack's.

    helm(info.kubeconfig, "install", *readme_install("bf", "black-friday", info.values_file), "--wait")
    with Cluster().api() as api:
        post_sale(api, "black-friday", "bf", {...})     # (status, body) through the api's ClusterIP
        report(api, "black-friday", "bf")               # bf-report against the release's Valkey primary
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from bftools.cluster.config import ClusterError, MissingPrerequisite
from bftools.cluster.shell import in_netns, in_netns_dns, run
from bftools.runtime.paths import ROOT
from blackfriday.valkeyconn import Login

#: Built by scripts/setup helm.
HELM: Final = ROOT / ".cache" / "bin" / "helm"
CHART: Final = ROOT / "charts" / "black-friday"
VALUES: Final = ROOT / "values"
#: The label every object of a release of the chart carries.
INSTANCE: Final = "app.kubernetes.io/instance"


def helm(kubeconfig: Path, *args: str, timeout: float = 300, check: bool = False) -> subprocess.CompletedProcess[str]:
    """The real helm against the local cluster; with check, ClusterError carrying helm's own error."""
    if not HELM.is_file():
        raise MissingPrerequisite(f"helm is not installed at {HELM}: run scripts/setup helm")
    try:
        done = subprocess.run(
            [str(HELM), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**helm_env(), "KUBECONFIG": str(kubeconfig)},
        )
    except subprocess.TimeoutExpired:
        raise ClusterError(f"helm {' '.join(args[:2])} did not finish in {timeout:.0f}s") from None
    if check and done.returncode != 0:
        raise ClusterError(f"helm {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done


def helm_env() -> dict[str, str]:
    """The caller's environment without HELM_* (a user's HELM_NAMESPACE or HELM_KUBECONTEXT would redirect helm)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}


def readme_install(release: str, namespace: str, values_file: Path, environment: str = "dev") -> list[str]:
    """The arguments of the README's install on the local cluster (after `helm install`)."""
    return [
        release,
        str(CHART),
        "-n",
        namespace,
        "--create-namespace",
        "-f",
        str(VALUES / f"{environment}.yaml"),
        "-f",
        str(values_file),
    ]


def service_ip(api: client.ApiClient, namespace: str, name: str) -> str:
    service = client.CoreV1Api(api).read_namespaced_service(name, namespace, _request_timeout=10)
    ip = service.spec.cluster_ip if service.spec else None
    if not ip or ip == "None":
        raise ClusterError(f"the Service {namespace}/{name} has no cluster IP")
    return str(ip)


def api_url(api: client.ApiClient, namespace: str, release: str) -> str:
    """The api Service, as seen from inside the namespace (kube-proxy's rules for its cluster IP)."""
    return f"http://{service_ip(api, namespace, f'{release}-api')}:8080"


def valkey_addr(api: client.ApiClient, namespace: str, release: str) -> str:
    """VALKEY_ADDR of a release's clients, usable inside the namespace (its DNS: in_netns_dns): the release's
    Sentinels and primary name when it runs Sentinel, else the primary's Service."""
    try:
        statefulset = client.AppsV1Api(api).read_namespaced_stateful_set(
            f"{release}-valkey", namespace, _request_timeout=10
        )
    except ApiException as exc:
        if exc.status == 404:
            raise ClusterError(f"the release {namespace}/{release} has no Valkey ({release}-valkey)") from None
        raise
    pod = statefulset.spec.template.spec if statefulset.spec and statefulset.spec.template else None
    env = {e.name: e.value for c in (pod.containers if pod else []) for e in (c.env or []) if e.value}
    if env.get("SENTINEL") == "1":
        return f"sentinel://{release}-valkey-sentinel.{namespace}:26379/{env.get('SENTINEL_NAME', 'bf')}"
    return f"{release}-valkey-primary.{namespace}:6379"


def valkey_login(api: client.ApiClient, namespace: str, release: str, user: str = "reader") -> Login:
    """How one of the release's Valkey users logs in (its password from the release's Secret, a key per user):
    the read-only "reader" by default, what every tool that only reads the figures needs."""
    secret = client.CoreV1Api(api).read_namespaced_secret(f"{release}-valkey", namespace, _request_timeout=10)
    encoded = (secret.data or {}).get(user)
    if not encoded:
        raise ClusterError(
            f"the Secret {namespace}/{release}-valkey has no key {user} (a release from before Valkey's users: "
            "helm upgrade adds them)"
        )
    return Login(user, base64.b64decode(encoded).decode())


def valkey_env(api: client.ApiClient, namespace: str, release: str, user: str = "reader") -> dict[str, str]:
    """VALKEY_ADDR (valkey_addr), VALKEY_USER and VALKEY_PASSWORD (the reader's, from the release's Secret) for
    bf-report."""
    return {"VALKEY_ADDR": valkey_addr(api, namespace, release), **valkey_login(api, namespace, release, user).env()}


def report(api: client.ApiClient, namespace: str, release: str, focus: str | None = None) -> dict[str, Any]:
    """`make report`'s figures, read by bf-report inside the namespace from the release's Valkey (through its
    Sentinels when it runs them)."""
    env = valkey_env(api, namespace, release)
    if focus:
        env["FOCUS_CATEGORY"] = focus
    done = run(
        in_netns_dns([sys.executable, "-m", "blackfriday.report"]),
        f"bf-report against {env['VALKEY_ADDR']}",
        timeout=30,
        env=env,
    )
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


POST = """\
import json, sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1] + "/purchase", data=sys.argv[2].encode(),
                                 headers={"content-type": "application/json"}, method="POST")
try:
    with urllib.request.urlopen(request, timeout=20) as response:
        print(json.dumps([response.status, json.loads(response.read())]))
except urllib.error.HTTPError as error:
    print(json.dumps([error.code, json.loads(error.read() or b"null")]))
"""


def post_sale(api: client.ApiClient, namespace: str, release: str, sale: Mapping[str, Any]) -> tuple[int, Any]:
    """POST a sale to the api Service from inside the namespace: (HTTP status, the api's JSON answer)."""
    url = api_url(api, namespace, release)
    done = run(in_netns([sys.executable, "-c", POST, url, json.dumps(dict(sale))]), f"POST {url}/purchase")
    status, body = json.loads(done.stdout)
    return int(status), body


def chart_consumers(api: client.ApiClient) -> list[str]:
    """The consumers (namespace/name) of every release of the chart on the cluster: another release's would
    share the broker's consumer group and topic, and take some of the sales."""
    deployments = client.AppsV1Api(api).list_deployment_for_all_namespaces(
        label_selector="app.kubernetes.io/name=consumer,app.kubernetes.io/part-of=black-friday", _request_timeout=10
    )
    return [f"{d.metadata.namespace}/{d.metadata.name}" for d in deployments.items if d.metadata]


def namespace_exists(core: client.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name, _request_timeout=10)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
