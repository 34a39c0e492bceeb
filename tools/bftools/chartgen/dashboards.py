"""The Grafana dashboards, built here and written as JSON into the chart (`python -m bftools.chartgen`).

The JSON files in charts/black-friday/charts/grafana/files/ are what Grafana loads, what the snapshot
draws and what the tests query; a test checks they are what this module builds. Every panel of the
sales dashboard is one query of the Redis data source (redis-datasource 2.2.0) on the keys of
docs/valkey-keys.md. The chart sets the "categoria" and "carnet" variables from its values.
"""

from __future__ import annotations

from typing import Any, Final

from blackfriday import keys
from blackfriday.sale import CATEGORY_NAMES

REDIS: Final = {"type": "redis-datasource", "uid": "bf-valkey"}
PROMETHEUS: Final = {"type": "prometheus", "uid": "bf-prometheus"}
CATEGORY_VAR: Final = "$categoria"
SALES_UID: Final = "bf-sales"
SERVICES_UID: Final = "bf-services"

Panel = dict[str, Any]


def redis_target(command: str, key: str, ref: str = "A", **extra: str) -> dict[str, Any]:
    return {"refId": ref, "datasource": REDIS, "type": "command", "command": command, "keyName": key, **extra}


def _thresholds(color: str = "green") -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": None, "color": color}]}


def _field_config(
    unit: str, decimals: int | None = None, color: dict[str, Any] | None = None, custom: dict[str, Any] | None = None
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": unit,
        "color": color or {"mode": "palette-classic"},
        "thresholds": _thresholds(),
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    if custom is not None:
        defaults["custom"] = custom
    return {"defaults": defaults, "overrides": []}


def _pos(x: int, y: int, w: int, h: int) -> dict[str, int]:
    return {"x": x, "y": y, "w": w, "h": h}


def bar_chart(
    title: str, key: str, unit: str, decimals: int, pos: dict[str, int], description: str, sort_by_value: bool = False
) -> Panel:
    """One row per category: HGETALL gives one column per category, "series to rows" turns them into bars."""
    sort = {"field": "Last *", "desc": True} if sort_by_value else {"field": "Field"}
    return {
        "type": "barchart",
        "title": title,
        "description": description,
        "datasource": REDIS,
        "gridPos": pos,
        "targets": [redis_target("hgetall", key)],
        "transformations": [
            {
                "id": "reduce",
                "options": {"mode": "seriesToRows", "reducers": ["lastNotNull"], "includeTimeField": False},
            },
            {"id": "sortBy", "options": {"sort": [sort]}},
        ],
        "fieldConfig": _field_config(
            unit,
            decimals,
            {"mode": "palette-classic"},
            {
                "fillOpacity": 80,
                "lineWidth": 1,
                "gradientMode": "none",
                "axisPlacement": "auto",
                "axisSoftMin": 0,
                "axisLabel": "",
            },
        ),
        "options": {
            "xField": "Field",
            "orientation": "auto",
            "showValue": "always",
            "stacking": "none",
            "groupWidth": 0.7,
            "barWidth": 0.8,
            "xTickLabelRotation": 0,
            "colorByField": "Field",
            "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom", "calcs": []},
            "tooltip": {"mode": "single", "sort": "none"},
        },
    }


def stat(
    title: str,
    target: dict[str, Any],
    unit: str,
    pos: dict[str, int],
    description: str,
    decimals: int | None = None,
    show_name: bool = False,
    color: str = "green",
    textual: bool = False,
) -> Panel:
    """A single figure; ``textual`` shows a string value (a product id) instead of a number."""
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": REDIS,
        "gridPos": pos,
        "targets": [target],
        "fieldConfig": _field_config(unit, decimals, {"mode": "fixed", "fixedColor": color}),
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "/.*/" if textual else "", "values": False},
            "textMode": "value_and_name" if show_name else "value",
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "center",
            "orientation": "auto",
            "wideLayout": True,
            "showPercentChange": False,
        },
    }


def text(title: str, content: str, pos: dict[str, int]) -> Panel:
    return {"type": "text", "title": title, "gridPos": pos, "options": {"mode": "markdown", "content": content}}


def timeseries(
    title: str,
    target: dict[str, Any] | list[dict[str, Any]],
    unit: str,
    pos: dict[str, int],
    description: str,
    bars: bool = False,
    datasource: dict[str, str] = REDIS,
) -> Panel:
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": pos,
        "targets": target if isinstance(target, list) else [target],
        "fieldConfig": _field_config(
            unit,
            2,
            {"mode": "palette-classic"},
            {
                "drawStyle": "bars" if bars else "line",
                "lineWidth": 2,
                "fillOpacity": 30 if bars else 10,
                "pointSize": 5,
                "showPoints": "never" if bars else "always",
                "spanNulls": False,
                "axisSoftMin": 0,
                "lineInterpolation": "linear",
            },
        ),
        "options": {
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []},
            "tooltip": {"mode": "multi", "sort": "none"},
        },
    }


def row(title: str, y: int) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": _pos(0, y, 24, 1), "panels": []}


def _variables() -> list[dict[str, Any]]:
    focus = "Belleza"
    return [
        {
            "type": "custom",
            "name": "categoria",
            "label": "Categoría asignada",
            "query": ",".join(CATEGORY_NAMES),
            "current": {"selected": True, "text": focus, "value": focus},
            "options": [{"selected": name == focus, "text": name, "value": name} for name in CATEGORY_NAMES],
            "multi": False,
            "includeAll": False,
            "hide": 0,
        },
        {
            "type": "textbox",
            "name": "carnet",
            "label": "Carnet",
            "query": "",
            "current": {"selected": False, "text": "", "value": ""},
            "options": [{"selected": True, "text": "", "value": ""}],
            "hide": 0,
        },
    ]


def _number_ids(panels: list[Panel]) -> list[Panel]:
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return panels


def _dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Panel],
    tags: list[str],
    variables: list[dict[str, Any]],
    time_from: str,
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": tags,
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
        "refresh": "5s",
        "schemaVersion": 41,
        "version": 1,
        "annotations": {"list": []},
        "templating": {"list": variables},
        "links": [],
        "panels": _number_ids(panels),
    }


def sales_dashboard() -> dict[str, Any]:
    """The assignment's drawing (shared/reference/dashboard-layout.png), plus a live throughput row."""
    c = CATEGORY_VAR
    panels: list[Panel] = [
        bar_chart(
            "Producto promedio por categoría",
            keys.CATEGORY_AVG_UNITS,
            "short",
            2,
            _pos(0, 0, 8, 10),
            "Unidades vendidas por venta (cantidad_vendida promedio), por categoría.",
        ),
        stat(
            "Precio más alto registrado en general",
            redis_target("get", keys.PRICE_MAX),
            "currencyUSD",
            _pos(8, 0, 8, 5),
            "El precio más alto de todas las ventas.",
            decimals=2,
        ),
        stat(
            "Producto más vendido registrado en general",
            redis_target("zrange", keys.PRODUCTS_UNITS, min="-1", max="-1"),
            "suffix: u.",
            _pos(16, 0, 8, 5),
            "El producto con más unidades vendidas (empates: el id mayor).",
            show_name=True,
            color="blue",
        ),
        stat(
            "Precio más bajo registrado en general",
            redis_target("get", keys.PRICE_MIN),
            "currencyUSD",
            _pos(8, 5, 8, 5),
            "El precio más bajo de todas las ventas.",
            decimals=2,
            color="orange",
        ),
        stat(
            "Producto menos vendido registrado en general",
            redis_target("zrange", keys.PRODUCTS_UNITS, min="0", max="0"),
            "suffix: u.",
            _pos(16, 5, 8, 5),
            "El producto con menos unidades vendidas (empates: el id menor).",
            show_name=True,
            color="orange",
        ),
        bar_chart(
            "Precio promedio por categoría",
            keys.CATEGORY_AVG_PRICE,
            "currencyUSD",
            2,
            _pos(0, 10, 8, 10),
            "Precio promedio por venta, por categoría.",
        ),
        bar_chart(
            "Total de reportes por categoría",
            keys.CATEGORY_SALES,
            "short",
            0,
            _pos(8, 10, 16, 10),
            "Número de ventas por categoría.",
            sort_by_value=True,
        ),
        row("Sección única por terminación de carnet: $categoria", 20),
        text("#Carnet", '<h1 style="text-align:center">$carnet</h1>', _pos(0, 21, 8, 4)),
        stat(
            "Producto más vendido por categoría asignada",
            redis_target("zrange", keys.category_products(c), min="-1", max="-1"),
            "suffix: u.",
            _pos(8, 21, 8, 4),
            "El producto de la categoría asignada con más unidades vendidas.",
            show_name=True,
            color="blue",
        ),
        stat(
            "Producto menos vendido por categoría asignada",
            redis_target("zrange", keys.category_products(c), min="0", max="0"),
            "suffix: u.",
            _pos(16, 21, 8, 4),
            "El producto de la categoría asignada con menos unidades vendidas.",
            show_name=True,
            color="orange",
        ),
        text("Nombre de la categoría", '<h1 style="text-align:center">$categoria</h1>', _pos(0, 25, 8, 5)),
        stat(
            "Producto monitoreado",
            redis_target("get", keys.category_tracked(c)),
            "none",
            _pos(0, 30, 8, 4),
            "El primer producto visto en la categoría asignada: su precio se sigue a la derecha.",
            color="purple",
            textual=True,
        ),
        timeseries(
            "Variación de precio del producto monitoreado",
            redis_target("xrange", keys.category_prices(c)),
            "currencyUSD",
            _pos(8, 25, 16, 9),
            "Precio de cada venta del producto monitoreado, en orden de llegada (las últimas 1000).",
        ),
        row("En vivo", 34),
        timeseries(
            "Ventas procesadas por segundo",
            redis_target("xrange", keys.THROUGHPUT),
            "short",
            _pos(0, 35, 16, 8),
            "Ventas aplicadas por el consumer en cada segundo (la última hora).",
            bars=True,
        ),
        stat(
            "Ventas totales",
            redis_target("get", keys.SALES_TOTAL),
            "short",
            _pos(16, 35, 8, 8),
            "Ventas contadas en el dashboard (cada venta una vez).",
            decimals=0,
            color="blue",
        ),
    ]
    return _dashboard(
        SALES_UID,
        "Black Friday - ventas",
        "Ventas en tiempo real: lo que la api guardó en Kafka y el consumer aplicó en Valkey.",
        panels,
        ["black-friday", "valkey"],
        _variables(),
        "now-15m",
    )


def prometheus_target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"refId": ref, "datasource": PROMETHEUS, "expr": expr, "legendFormat": legend, "range": True}


def services_dashboard() -> dict[str, Any]:
    """The services' own metrics (needs a Prometheus scraping their /metrics; grafana.prometheus.url)."""
    rate = "sum by (job, code) (rate(bf_http_requests_total[1m]))"
    errors = (
        'sum by (job) (rate(bf_http_requests_total{code=~"5.."}[1m]))'
        " / clamp_min(sum by (job) (rate(bf_http_requests_total[1m])), 1e-9)"
    )

    def quantile(q: str, metric: str) -> str:
        return f"histogram_quantile({q}, sum by (le, job) (rate({metric}_bucket[1m])))"

    panels: list[Panel] = [
        timeseries(
            "Peticiones por segundo",
            prometheus_target(rate, "{{job}} {{code}}"),
            "reqps",
            _pos(0, 0, 12, 8),
            "HTTP requests per second by service and status code.",
            datasource=PROMETHEUS,
        ),
        timeseries(
            "Tasa de errores (5xx)",
            prometheus_target(errors, "{{job}}"),
            "percentunit",
            _pos(12, 0, 12, 8),
            "Share of HTTP requests answered 5xx.",
            datasource=PROMETHEUS,
        ),
        timeseries(
            "Latencia HTTP p50 / p95 / p99",
            [
                prometheus_target(quantile(q, "bf_http_request_seconds"), "{{job}} " + name, ref)
                for q, name, ref in (("0.5", "p50", "A"), ("0.95", "p95", "B"), ("0.99", "p99", "C"))
            ],
            "s",
            _pos(0, 8, 12, 8),
            "HTTP latency percentiles by service.",
            datasource=PROMETHEUS,
        ),
        timeseries(
            "Latencia del ack de Kafka (writer) p95",
            prometheus_target(quantile("0.95", "bf_writer_ack_seconds"), "{{job}} p95"),
            "s",
            _pos(12, 8, 12, 8),
            "From a gRPC call to Kafka's ack of all its sales.",
            datasource=PROMETHEUS,
        ),
        timeseries(
            "Lag del consumer",
            prometheus_target("sum by (job) (bf_consumer_lag)", "{{job}}"),
            "short",
            _pos(0, 16, 12, 8),
            "Records behind the end of the partitions.",
            datasource=PROMETHEUS,
        ),
        timeseries(
            "Ventas aplicadas por segundo",
            prometheus_target("sum by (outcome) (rate(bf_consumer_records_total[1m]))", "{{outcome}}"),
            "short",
            _pos(12, 16, 12, 8),
            "Records applied, skipped as duplicates, or invalid.",
            datasource=PROMETHEUS,
        ),
    ]
    return _dashboard(
        SERVICES_UID,
        "Black Friday - servicios",
        "Request rate, errors, latency and consumer lag.",
        panels,
        ["black-friday", "prometheus"],
        [],
        "now-30m",
    )


DASHBOARDS: Final = {
    "dashboards/sales.json": sales_dashboard,
    "dashboards-prometheus/services.json": services_dashboard,
}
