"""The Grafana dashboards: schema-valid, sound layout, only supported queries, provisioned by the chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bftools.chartgen import GRAFANA_FILES
from bftools.dashboard.redisds import SUPPORTED, interpolate, variables
from tests.chart.conftest import render

pytestmark = pytest.mark.chart

DASHBOARD_FILES = sorted(GRAFANA_FILES.rglob("*.json"))
DRAWING_TITLES = {
    "Producto promedio por categoría",
    "Precio más alto registrado en general",
    "Precio más bajo registrado en general",
    "Producto más vendido registrado en general",
    "Producto menos vendido registrado en general",
    "Precio promedio por categoría",
    "Total de reportes por categoría",
    "#Carnet",
    "Nombre de la categoría",
    "Producto más vendido por categoría asignada",
    "Producto menos vendido por categoría asignada",
    "Variación de precio del producto monitoreado",
}


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return list(dashboard["panels"])


def test_there_are_two_dashboards() -> None:
    assert [p.name for p in DASHBOARD_FILES] == ["sales.json", "services.json"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_validates_against_the_grafana_schema(path: Path, shared_dir: Path) -> None:
    schema = json.loads((shared_dir / "schemas" / "grafana-dashboard.schema.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(load(path)), key=str)
    assert not errors, f"{errors[0].message} at {list(errors[0].absolute_path)}"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_panel_ids_are_unique_and_panels_do_not_overlap(path: Path) -> None:
    items = panels(load(path))
    ids = [p["id"] for p in items]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in items:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_every_target_is_one_supported_query_on_a_fixed_uid(path: Path) -> None:
    for panel in panels(load(path)):
        for target in panel.get("targets", []):
            uid = target["datasource"]["uid"]
            assert uid == panel["datasource"]["uid"], panel["title"]
            if target["datasource"]["type"] == "redis-datasource":
                assert uid == "bf-valkey"
                assert target["command"] in SUPPORTED, panel["title"]
                assert target["keyName"].startswith("bf:"), panel["title"]
                assert not target.get("query"), "one command per panel, no CLI queries"
            else:
                assert (target["datasource"]["type"], uid) == ("prometheus", "bf-prometheus")
                assert target["expr"]


def test_the_sales_dashboard_has_every_panel_of_the_drawing() -> None:
    sales = load(GRAFANA_FILES / "dashboards" / "sales.json")
    titles = {p["title"] for p in panels(sales)}
    assert titles >= DRAWING_TITLES
    by_title = {p["title"]: p for p in panels(sales)}
    for title in (
        "Producto promedio por categoría",
        "Precio promedio por categoría",
        "Total de reportes por categoría",
    ):
        assert by_title[title]["type"] == "barchart"
        assert by_title[title]["transformations"][0]["options"]["mode"] == "seriesToRows"
    assert by_title["Precio más alto registrado en general"]["fieldConfig"]["defaults"]["unit"] == "currencyUSD"
    assert by_title["Variación de precio del producto monitoreado"]["type"] == "timeseries"
    assert sales["refresh"] == "5s"


def rendered_dashboard(*flags: str, name: str = "sales.json") -> dict[str, Any]:
    config = render(*flags).get("ConfigMap", "bf-grafana-dashboards")
    dashboard: dict[str, Any] = json.loads(config["data"][name])
    return dashboard


def focus_keys(dashboard: dict[str, Any]) -> set[str]:
    values = variables(dashboard)
    return {
        interpolate(t["keyName"], values)
        for p in panels(dashboard)
        for t in p.get("targets", [])
        if "$categoria" in t.get("keyName", "")
    }


def test_the_focus_category_in_values_changes_what_the_dashboard_queries() -> None:
    assert focus_keys(rendered_dashboard()) == {
        "bf:category:Belleza:products",
        "bf:category:Belleza:tracked",
        "bf:category:Belleza:prices",
    }
    ropa = rendered_dashboard("--set", "global.focusCategory=Ropa", "--set", "global.focusLabel=202300534")
    assert focus_keys(ropa) == {"bf:category:Ropa:products", "bf:category:Ropa:tracked", "bf:category:Ropa:prices"}
    assert variables(ropa)["carnet"] == "202300534"
    [categoria] = [v for v in ropa["templating"]["list"] if v["name"] == "categoria"]
    assert [o["value"] for o in categoria["options"] if o["selected"]] == ["Ropa"]


def test_refresh_comes_from_values() -> None:
    assert rendered_dashboard("--set", "grafana.dashboards.refresh=10s")["refresh"] == "10s"


def test_the_prometheus_dashboard_and_data_source_come_with_a_prometheus_url() -> None:
    without = render().get("ConfigMap", "bf-grafana-dashboards")["data"]
    assert set(without) == {"sales.json"}
    flags = ("--set", "grafana.prometheus.url=http://prometheus.monitoring:9090")
    assert set(render(*flags).get("ConfigMap", "bf-grafana-dashboards")["data"]) == {"sales.json", "services.json"}
    provisioning = render(*flags).get("ConfigMap", "bf-grafana-provisioning")["data"]["datasources.yaml"]
    assert "uid: bf-prometheus" in provisioning
    assert "url: http://prometheus.monitoring:9090" in provisioning
