"""A PNG of the sales dashboard for people without Grafana (`make snapshot`, and `make demo`).

It draws the dashboard JSON the chart provisions, panel by panel at its grid position, from the same
queries run the way the Redis data source runs them (bftools.dashboard.redisds): same panels, same numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import valkey
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bftools.chartgen import GRAFANA_FILES
from bftools.dashboard.redisds import interpolate, panel_values, run_target, variables

#: The sales dashboard as the chart ships it (written by bftools.chartgen).
SALES_DASHBOARD = GRAFANA_FILES / "dashboards" / "sales.json"

BACKGROUND = "#111217"
PANEL = "#181b1f"
BORDER = "#2c3235"
TEXT = "#d8d9da"
MUTED = "#8e8e8e"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0"]
COLORS = {"green": "#73bf69", "blue": "#5794f2", "orange": "#ff9830", "purple": "#b877d9"}
UNIT_WIDTH = 0.68  # inches per grid column
UNIT_HEIGHT = 0.36  # inches per grid row
HEADER = 0.6  # inches above the grid for the dashboard's title


def fmt(value: Any, unit: str, decimals: int | None) -> str:
    if not isinstance(value, float):
        return str(value)
    places = 2 if decimals is None and value != int(value) else (decimals or 0)
    if unit == "currencyUSD":
        return f"${value:,.{places}f}"
    if unit.startswith("suffix:"):
        return f"{value:,.{places}f}{unit.split(':', 1)[1].rstrip()}"
    return f"{value:,.{places}f}"


def _rect(fig: Figure, x: float, y: float, w: float, h: float) -> Axes:
    """Axes at (x, y) inches from the top-left corner of the grid, w x h inches."""
    width, height = fig.get_size_inches()
    return fig.add_axes((x / width, 1 - (y + h + HEADER) / height, w / width, h / height))


def _panel(fig: Figure, pos: Mapping[str, int], title: str, chart: bool) -> Axes:
    """The panel's box with its title; returns the axes to draw in (inset for axis labels on charts)."""
    gap = 0.05
    x, y = pos["x"] * UNIT_WIDTH + gap, pos["y"] * UNIT_HEIGHT + gap
    w, h = pos["w"] * UNIT_WIDTH - 2 * gap, pos["h"] * UNIT_HEIGHT - 2 * gap
    box = _rect(fig, x, y, w, h)
    box.set_facecolor(PANEL)
    _plain(box)
    for spine in box.spines.values():
        spine.set_color(BORDER)
    box.text(
        0.08 / w, 1 - 0.17 / h, title, color=TEXT, fontsize=10, fontweight="bold", va="center", transform=box.transAxes
    )
    if chart:
        inner = _rect(fig, x + 0.7, y + 0.4, w - 0.85, h - 0.8)
    else:
        inner = _rect(fig, x, y + 0.3, w, h - 0.3)
        inner.set_axis_off()
    inner.set_facecolor(PANEL)
    for spine in inner.spines.values():
        spine.set_color(BORDER)
    return inner


def _plain(ax: Axes) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def _centered(ax: Axes, y: float, text: str, color: str = TEXT, size: int = 14, bold: bool = False) -> None:
    """Text centred horizontally at height ``y`` (0-1) of the axes."""
    ax.text(
        0.5,
        y,
        text,
        ha="center",
        va="center",
        color=color,
        fontsize=size,
        fontweight="bold" if bold else "normal",
        transform=ax.transAxes,
    )


def _draw_stat(ax: Axes, panel: Mapping[str, Any], shown: Mapping[str, Any]) -> None:
    _plain(ax)
    defaults = panel["fieldConfig"]["defaults"]
    color = COLORS.get(defaults.get("color", {}).get("fixedColor", "green"), TEXT)
    if not shown:
        _centered(ax, 0.45, "No data", MUTED)
        return
    name, value = next(iter(shown.items()))
    text = fmt(value, defaults.get("unit", "none"), defaults.get("decimals"))
    if panel["options"].get("textMode") == "value_and_name":
        _centered(ax, 0.62, name, size=13)
        _centered(ax, 0.28, text, color, size=20, bold=True)
    else:
        _centered(ax, 0.42, text, color, size=24, bold=True)


def _draw_bars(ax: Axes, panel: Mapping[str, Any], shown: Mapping[str, float]) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    sort = panel["transformations"][1]["options"]["sort"][0] if len(panel["transformations"]) > 1 else {}
    items = sorted(
        shown.items(),
        key=(lambda kv: kv[1]) if sort.get("field") == "Last *" else (lambda kv: kv[0]),
        reverse=bool(sort.get("desc")),
    )
    names = [k for k, _ in items]
    values = [v for _, v in items]
    bars = ax.bar(names, values, color=[PALETTE[i % len(PALETTE)] for i in range(len(names))], width=0.7)
    for bar, value in zip(bars, values, strict=True):
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height(),
            fmt(value, defaults["unit"], defaults.get("decimals")),
            ha="center",
            va="bottom",
            color=TEXT,
            fontsize=9,
        )
    ax.tick_params(colors=MUTED, labelsize=8)
    ax.set_ylim(0, (max(values) * 1.2) if values and max(values) > 0 else 1)
    ax.grid(axis="y", color=BORDER, linewidth=0.5)
    ax.set_axisbelow(True)
    if not values:
        _centered(ax, 0.5, "No data", MUTED, size=10)


def _draw_timeseries(
    ax: Axes, panel: Mapping[str, Any], shown: Mapping[str, list[tuple[dt.datetime, float]]], since: dt.datetime
) -> None:
    """Like Grafana: only the points in the dashboard's time range (the last minutes)."""
    bars = panel["fieldConfig"]["defaults"].get("custom", {}).get("drawStyle") == "bars"
    shown = {name: [(t, v) for t, v in points if t >= since] for name, points in shown.items()}
    shown = {name: points for name, points in shown.items() if points}
    for index, (name, points) in enumerate(shown.items()):
        times: Any = [t for t, _ in points]  # matplotlib takes datetimes on a date axis
        values = [v for _, v in points]
        color = PALETTE[index % len(PALETTE)]
        if bars:
            ax.bar(times, values, width=1 / 86400, color=color, label=name)
        else:
            ax.plot(times, values, color=color, marker="o", markersize=3, linewidth=1.5, label=name)
    ax.tick_params(colors=MUTED, labelsize=8)
    ax.grid(color=BORDER, linewidth=0.5)
    # The dashboard's time range, zoomed in to where its data starts (a short run stays readable).
    start = min((t for points in shown.values() for t, _ in points), default=since)
    limits: Any = (start - dt.timedelta(seconds=1), dt.datetime.now(tz=dt.UTC))
    ax.set_xlim(*limits)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))  # type: ignore[no-untyped-call]
    if shown:
        ax.legend(loc="upper left", fontsize=8, facecolor=PANEL, edgecolor=BORDER, labelcolor=TEXT)
    else:
        _centered(ax, 0.5, "No data", MUTED, size=10)


def _draw_text(ax: Axes, panel: Mapping[str, Any], values: Mapping[str, str]) -> None:
    _plain(ax)
    content = re.sub(r"<[^>]+>", "", interpolate(panel["options"]["content"], values)).strip()
    _centered(ax, 0.45, content or "-", size=22, bold=True)


def write_snapshot(
    client: valkey.Valkey, png: Path, overrides: Mapping[str, str] | None = None, dashboard_file: Path = SALES_DASHBOARD
) -> Path:
    """Draw the dashboard with ``client``'s data into ``png``; ``overrides`` sets dashboard variables."""
    dashboard = json.loads(dashboard_file.read_text())
    values = {**variables(dashboard), **(overrides or {})}
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"])
    fig = plt.figure(figsize=(24 * UNIT_WIDTH, rows * UNIT_HEIGHT + HEADER), facecolor=BACKGROUND)
    minutes = int(re.fullmatch(r"now-(\d+)m", dashboard["time"]["from"]).group(1))  # type: ignore[union-attr]
    since = dt.datetime.now(tz=dt.UTC) - dt.timedelta(minutes=minutes)
    stamp = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    fig.text(
        0.01,
        1 - 0.35 / fig.get_size_inches()[1],
        f"{dashboard['title']}    categoria = {values.get('categoria')}"
        f"    carnet = {values.get('carnet') or '-'}    ({stamp})",
        color=TEXT,
        fontsize=13,
        fontweight="bold",
        va="center",
    )
    for panel in dashboard["panels"]:
        title = interpolate(panel.get("title", ""), values)
        pos = panel["gridPos"]
        if panel["type"] == "row":
            band = _rect(fig, 0.05, pos["y"] * UNIT_HEIGHT, 24 * UNIT_WIDTH - 0.1, pos["h"] * UNIT_HEIGHT)
            band.set_axis_off()
            band.text(
                0.0, 0.5, title, color=TEXT, fontsize=12, fontweight="bold", va="center", transform=band.transAxes
            )
            continue
        chart = panel["type"] in ("barchart", "timeseries")
        ax = _panel(fig, pos, title, chart)
        if panel["type"] == "text":
            _draw_text(ax, panel, values)
            continue
        shown = panel_values(panel, [run_target(client, t, values) for t in panel["targets"]])
        if panel["type"] == "stat":
            _draw_stat(ax, panel, shown)
        elif panel["type"] == "barchart":
            _draw_bars(ax, panel, shown)
        else:
            _draw_timeseries(ax, panel, shown, since)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=90, facecolor=BACKGROUND)
    plt.close(fig)
    return png
