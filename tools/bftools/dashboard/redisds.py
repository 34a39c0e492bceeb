"""What Grafana's Redis data source (redis-datasource 2.2.0) does with a panel target, in Python.

`run_target` turns a target of the dashboard JSON into the Valkey command the plugin sends and the data
frame it builds from the reply; `panel_values` applies the panel's transformations and reduction the way
the panel shows them. The snapshot (`make snapshot`) draws from these, and the tests check every panel of
the dashboard against `make report` through them, so neither rests on a hand-written query.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import valkey

#: The commands of the plugin's query editor that the dashboards use; a dashboard test fails on any other.
SUPPORTED: Final = frozenset({"get", "hgetall", "zrange", "xrange"})
_VARIABLE: Final = re.compile(r"\$\{(\w+)\}|\$(\w+)")


class UnsupportedTarget(ValueError):
    pass


@dataclass
class Frame:
    """A data frame: named columns of equal length."""

    fields: dict[str, list[Any]] = field(default_factory=dict)

    def numeric(self) -> dict[str, list[float]]:
        return {
            name: values for name, values in self.fields.items() if values and all(isinstance(v, float) for v in values)
        }


def variables(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """The current value of each dashboard variable."""
    return {
        v["name"]: str(v.get("current", {}).get("value", "")) for v in dashboard.get("templating", {}).get("list", [])
    }


def interpolate(text: str, values: Mapping[str, str]) -> str:
    """Grafana's $var / ${var} replacement (unknown variables stay as they are)."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


def _command(client: valkey.Valkey, *args: Any) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def run_target(client: valkey.Valkey, target: Mapping[str, Any], values: Mapping[str, str]) -> Frame:
    """Send the target's command as the plugin does and build the frame the plugin returns."""
    if target.get("query"):
        raise UnsupportedTarget("CLI-style query targets are not emulated")
    command = str(target.get("command", ""))
    if command not in SUPPORTED:
        raise UnsupportedTarget(f"command {command!r} is not a redis-datasource command this project uses")
    key = interpolate(str(target.get("keyName", "")), values)
    frame = Frame()
    if command == "hgetall":
        for name, value in client.hgetall(key).items():  # type: ignore[union-attr]
            frame.fields[_decode(name)] = [_number_or_text(_decode(value))]
    elif command == "zrange":
        low = interpolate(str(target.get("min", "")), values)
        high = interpolate(str(target.get("max", "")), values)
        reply = _command(client, "ZRANGE", key, low, high, "WITHSCORES")
        for member, score in zip(reply[::2], reply[1::2], strict=True):
            frame.fields[_decode(member)] = [float(_decode(score))]
    elif command == "xrange":
        start = interpolate(str(target.get("start") or "-"), values)
        end = interpolate(str(target.get("end") or "+"), values)
        count = int(target.get("count") or 0)
        args: list[Any] = [start, end, "COUNT", count] if count > 0 else [start, end]
        entries = _command(client, "XRANGE", key, *args)
        frame.fields["$streamId"] = []
        frame.fields["$time"] = []
        for entry_id, pairs in entries:
            ident = _decode(entry_id)
            frame.fields["$streamId"].append(ident)
            frame.fields["$time"].append(dt.datetime.fromtimestamp(int(ident.split("-")[0]) / 1000, tz=dt.UTC))
            items = pairs.items() if isinstance(pairs, dict) else zip(pairs[::2], pairs[1::2], strict=True)
            for name, value in items:
                frame.fields.setdefault(_decode(name), []).append(_number_or_text(_decode(value)))
    else:  # get: one value
        value = client.get(key)
        frame.fields["Value"] = [] if value is None else [_number_or_text(_decode(value))]  # type: ignore[arg-type]
    return frame


def panel_values(panel: Mapping[str, Any], frames: list[Frame]) -> dict[str, Any]:
    """What the panel shows: bar charts {category: value}, stats {name: value}, time series {field: [(t, v)]}."""
    kind = panel["type"]
    merged = Frame()
    for frame in frames:
        merged.fields.update(frame.fields)
    transformations = [t["id"] for t in panel.get("transformations", [])]
    if kind == "barchart":
        if "reduce" not in transformations:
            raise UnsupportedTarget(f"bar chart {panel['title']!r} needs the reduce (series to rows) transformation")
        return {name: values[-1] for name, values in merged.numeric().items()}
    if kind == "stat":
        reduce = panel.get("options", {}).get("reduceOptions", {})
        all_fields = reduce.get("fields") == "/.*/"
        return {
            name: values[-1]
            for name, values in merged.fields.items()
            if values and (all_fields or all(isinstance(v, float) for v in values))
        }
    if kind == "timeseries":
        times = merged.fields.get("$time", [])
        return {name: list(zip(times, values, strict=True)) for name, values in merged.numeric().items()}
    raise UnsupportedTarget(f"panel type {kind!r} has no data to emulate")
