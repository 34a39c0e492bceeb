"""Each panel of the sales dashboard, run on the real Valkey after a real pipeline run, shows `make report`'s figure.

The queries are not written here: each panel's target is taken from the dashboard JSON the chart ships
and executed as redis-datasource executes it (bftools.dashboard.redisds), logged in as Grafana's data source
logs in: Valkey's read-only "reader". A panel on a wrong or empty key, or one its user may not run, fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import valkey

from bftools.chartgen import GRAFANA_FILES
from bftools.dashboard.redisds import panel_values, run_target, variables
from bftools.stack.services import Pipeline
from blackfriday.valkeyconn import connect_as
from tests.integration.helpers import known_sales, make_report, post_one, post_sales, until, wait_total

pytestmark = pytest.mark.integration

Expectation = Callable[[dict[str, Any]], Any]


@pytest.fixture
def grafana(pipeline: Pipeline, valkey_client: valkey.Valkey) -> Iterator[valkey.Valkey]:
    """A client logged in as the provisioned data source is (the reader), on the emptied Valkey."""
    with connect_as(pipeline.valkey_addr, pipeline.valkey_login("reader")) as client:
        yield client


def product(ranked: dict[str, Any]) -> dict[str, float]:
    return {ranked["id"]: float(ranked["units"])}


def per_category(figure: str) -> Expectation:
    return lambda report: {name: float(cat[figure]) for name, cat in report["categories"].items()}


#: What each panel must show, from the report (focus = the dashboard's categoria variable).
EXPECTED: dict[str, Expectation] = {
    "Producto promedio por categoría": per_category("avg_units"),
    "Precio promedio por categoría": per_category("avg_price"),
    "Total de reportes por categoría": per_category("sales"),
    "Precio más alto registrado en general": lambda r: {"Value": r["max_price"]},
    "Precio más bajo registrado en general": lambda r: {"Value": r["min_price"]},
    "Producto más vendido registrado en general": lambda r: product(r["best_product"]),
    "Producto menos vendido registrado en general": lambda r: product(r["worst_product"]),
    "Producto más vendido por categoría asignada": lambda r: product(
        r["categories"][r["focus"]["category"]]["best_product"]
    ),
    "Producto menos vendido por categoría asignada": lambda r: product(
        r["categories"][r["focus"]["category"]]["worst_product"]
    ),
    "Producto monitoreado": lambda r: {"Value": r["focus"]["tracked_product"]},
    "Variación de precio del producto monitoreado": lambda r: r["focus"]["prices"],
    "Ventas totales": lambda r: {"Value": float(r["total_sales"])},
}


def shown(panel: dict[str, Any], client: valkey.Valkey, values: dict[str, str]) -> Any:
    frames = [run_target(client, target, values) for target in panel["targets"]]
    display = panel_values(panel, frames)
    if panel["type"] == "timeseries":
        assert len(display) == 1, f"{panel['title']}: one numeric series expected, got {list(display)}"
        return [value for _, value in next(iter(display.values()))]
    return display


@pytest.mark.parametrize("focus", ["Belleza", "Hogar"])
def test_every_panel_shows_the_reports_figure(pipeline: Pipeline, grafana: valkey.Valkey, focus: str) -> None:
    pipeline.start_all()
    first = post_one(
        pipeline.api_url, {"categoria": focus, "producto_id": "Primero", "precio": 10, "cantidad_vendida": 1}
    )
    assert first.stored
    wait_total(pipeline, 1)
    outcomes = [first, *post_sales(pipeline.api_url, known_sales(250, seed=23))]
    assert all(o.stored for o in outcomes)
    wait_total(pipeline, len(outcomes))
    report = make_report(pipeline, focus)

    dashboard = json.loads((GRAFANA_FILES / "dashboards" / "sales.json").read_text())
    values = {**variables(dashboard), "categoria": focus}  # as the chart sets it from global.focusCategory
    checked = set()
    for panel in dashboard["panels"]:
        if not panel.get("targets") or panel["title"] == "Ventas procesadas por segundo":
            continue
        assert panel["title"] in EXPECTED, f"no expectation for panel {panel['title']!r}"
        got = shown(panel, grafana, values)
        assert got == EXPECTED[panel["title"]](report), panel["title"]
        checked.add(panel["title"])
    assert checked == set(EXPECTED)


def test_the_throughput_panel_adds_up_to_the_total(pipeline: Pipeline, grafana: valkey.Valkey) -> None:
    pipeline.start_all()
    outcomes = post_sales(pipeline.api_url, known_sales(200, seed=29))
    report = wait_total(pipeline, sum(o.stored for o in outcomes))
    dashboard = json.loads((GRAFANA_FILES / "dashboards" / "sales.json").read_text())
    [panel] = [p for p in dashboard["panels"] if p["title"] == "Ventas procesadas por segundo"]

    # A second is written once it is over (all 200 sales may fall in the one still being counted); idle,
    # the consumer closes it: the graph ends with every sale, then falls to zero.
    def settled() -> bool:
        frames = [run_target(grafana, target, variables(dashboard)) for target in panel["targets"]]
        points = [value for series in panel_values(panel, frames).values() for _, value in series]
        return bool(points) and sum(points) == report["total_sales"] and points[-1] == 0

    until(settled, 10, "the last busy second and a zero to be written")
