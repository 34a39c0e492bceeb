"""The public edge: the Ingress and the HTTPRoute for POST /purchase, and the per-client rate limit each
controller understands (a Traefik Middleware, ingress-nginx's annotations); Traefik's and the Gateway API's
objects valid against their CRDs; what cannot work stops the render with a message."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from bftools.runtime.paths import edge_crds
from tests.chart.conftest import CHART, Render, render, render_error

pytestmark = pytest.mark.chart

TRAEFIK = "traefik.io/v1alpha1/Middleware"
GATEWAY = "gateway.networking.k8s.io/v1/HTTPRoute"
INGRESS_TRAEFIK = ("--set", "ingress.enabled=true", "--set", "ingress.className=traefik", "--api-versions", TRAEFIK)
ROUTE = (
    "--set",
    "httpRoute.enabled=true",
    "--set",
    "httpRoute.parentRefs[0].name=edge",
    "--set",
    "httpRoute.parentRefs[0].namespace=traefik",
    "--api-versions",
    GATEWAY,
)


def _schema(which: str, kind: str) -> dict[str, Any]:
    for crd in yaml.safe_load_all(edge_crds(which).read_text()):
        if crd and crd["spec"]["names"]["kind"] == kind:
            [version] = [v for v in crd["spec"]["versions"] if v.get("storage")]
            schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
            return schema
    raise AssertionError(f"no {kind} in the {which} CRDs")


def _valid(obj: dict[str, Any], which: str) -> None:
    errors = sorted(jsonschema.Draft7Validator(_schema(which, obj["kind"])).iter_errors(obj), key=str)
    assert not errors, f"{obj['kind']}: {errors[0].message} at {list(errors[0].path)}"


def _middleware(rendered: Render) -> dict[str, Any]:
    return rendered.get("Middleware", "bf-rate-limit")


def test_the_rate_limit_is_on_by_default_and_documented() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["rateLimit"] == {"enabled": True, "requestsPerSecond": 50, "burst": 100, "controller": ""}


def test_with_traefik_a_middleware_limits_each_client_and_the_ingress_uses_it() -> None:
    rendered = render(*INGRESS_TRAEFIK, "--set", "rateLimit.requestsPerSecond=7", "--set", "rateLimit.burst=9")
    middleware = _middleware(rendered)
    assert middleware["metadata"]["namespace"] == "shop"
    assert middleware["spec"]["rateLimit"] == {"average": 7, "period": "1s", "burst": 9}
    _valid(middleware, "traefik")
    ingress = rendered.get("Ingress", "bf-api")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"] == (
        "shop-bf-rate-limit@kubernetescrd"
    )


@pytest.mark.parametrize("class_name", ["nginx", "public"])
def test_with_ingress_nginx_the_limit_is_its_annotations(class_name: str) -> None:
    rendered = render("--set", "ingress.enabled=true", "--set", f"ingress.className={class_name}")
    annotations = rendered.get("Ingress", "bf-api")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "50"
    assert annotations["nginx.ingress.kubernetes.io/limit-burst-multiplier"] == "2"  # 50 x 2 = the burst of 100
    assert not rendered.of_kind("Middleware")


def test_the_users_own_annotations_stay_beside_the_limit() -> None:
    rendered = render(*INGRESS_TRAEFIK, "--set", "ingress.annotations.team=shop")
    annotations = rendered.get("Ingress", "bf-api")["metadata"]["annotations"]
    assert annotations["team"] == "shop"
    assert "traefik.ingress.kubernetes.io/router.middlewares" in annotations


def test_switched_off_no_limit_is_rendered() -> None:
    rendered = render(*INGRESS_TRAEFIK, "--set", "rateLimit.enabled=false")
    assert not rendered.of_kind("Middleware")
    assert "annotations" not in rendered.get("Ingress", "bf-api")["metadata"]


def test_the_httproute_sends_purchase_to_the_api_through_the_limit() -> None:
    rendered = render(*ROUTE, "--set", "rateLimit.controller=traefik", "--api-versions", TRAEFIK)
    route = rendered.get("HTTPRoute", "bf-api")
    _valid(route, "gateway-api")
    assert route["spec"]["parentRefs"] == [{"name": "edge", "namespace": "traefik"}]
    [rule] = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/purchase"}}]
    assert rule["backendRefs"] == [{"name": "bf-api", "port": 8080}]
    assert rule["filters"] == [
        {"type": "ExtensionRef", "extensionRef": {"group": "traefik.io", "kind": "Middleware", "name": "bf-rate-limit"}}
    ]
    _valid(_middleware(rendered), "traefik")
    assert not rendered.of_kind("Ingress")


def test_the_httproute_takes_hostnames_and_runs_without_a_limit() -> None:
    rendered = render(*ROUTE, "--set", "rateLimit.enabled=false", "--set", "httpRoute.hostnames[0]=shop.example")
    route = rendered.get("HTTPRoute", "bf-api")
    assert route["spec"]["hostnames"] == ["shop.example"]
    assert "filters" not in route["spec"]["rules"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "ingress.enabled=true", "--set", "ingress.className=haproxy"), "cannot tell how the ingress class"),
        (("--set", "ingress.enabled=true", "--set", "ingress.className=traefik"), "needs Traefik's CRDs"),
        (("--set", "httpRoute.enabled=true"), "needs the Gateway API"),
        (("--set", "httpRoute.enabled=true", "--api-versions", GATEWAY), "httpRoute.parentRefs must name the Gateway"),
        (ROUTE, "with Traefik's Middleware only"),
        (("--set", "rateLimit.requestsPerSecond=0"), "requestsPerSecond"),
        (("--set", "rateLimit.controller=envoy"), "controller"),
    ],
)
def test_what_cannot_work_stops_the_render(args: tuple[str, ...], message: str) -> None:
    assert message in render_error(*args)
