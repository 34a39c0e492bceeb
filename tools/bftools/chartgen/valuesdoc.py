"""The values reference of charts/black-friday/README.md (between <!-- values:begin --> and <!-- values:end -->):
every key the chart takes, with its type, its default and what it does.

Which keys there are and their types come from the values schemas (schemas.py, the same definitions as the
values.schema.json files helm checks at render time); the defaults from the values.yaml files; what a key
does from the comment right above it in its values.yaml, else from its schema's description. The rest of
the README is written by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from bftools.chartgen import CHART
from bftools.chartgen.schemaparts import QUANTITY_PATTERN, RESOURCES, SERVICE, SERVICE_COMMON, Schema
from bftools.chartgen.schemas import all_schemas
from bftools.runtime.docs import replace_section

README: Final = CHART / "README.md"
SECTION: Final = "values"
#: The service subcharts: their defaults are in the umbrella's global.serviceDefaults.
SERVICES: Final = ("api", "bridge", "writer", "consumer")
OTHERS: Final = ("kafka", "valkey", "grafana")
#: The key Helm gives every chart for its library dependency: not a setting.
SKIPPED: Final = {"bf-common"}
CONFIGURATION: Final = "../../docs/configuration.md"
CONFIG_NOTE: Final = (
    f"the service's settings: the keys of its table in [docs/configuration.md]({CONFIGURATION}) marked "
    "`config:`, checked against the service's own bounds at render time; any other key fails the render"
)
#: A key, or a list item's first key, of a block-style values.yaml line.
KEY: Final = re.compile(r"""^(?P<indent> *)(?P<dash>- +)?(?P<key>"[^"]+"|'[^']+'|[A-Za-z0-9_.-]+):(?: |$)""")


class _Missing:
    """A key the values file does not set."""


MISSING: Final = _Missing()


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    description: str

    def markdown(self) -> str:
        description = self.description.replace("<", "&lt;").replace(">", "&gt;")
        cells = (f"`{self.key}`", self.type, self.default, description)
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def comments(text: str) -> dict[str, str]:
    """Key path (``a.b``, a list's items ``a[].b``) -> the comment lines right above the key, joined."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            pending = []
            continue
        if stripped.startswith("#"):
            pending.append(comment_line(stripped[1:]))
            continue
        match = KEY.match(line)
        if match is None:
            pending = []
            continue
        indent = len(match["indent"])
        if match["dash"]:  # a list's item: the comment above it is the item's
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, "[]"))
            if pending:
                found[_path(stack)] = " ".join(pending)
            pending = []
            indent += len(match["dash"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"].strip("\"'")))
        if pending:
            found[_path(stack)] = " ".join(pending)
        pending = []
    return found


def _path(stack: list[tuple[int, str]]) -> str:
    return ".".join(key for _, key in stack).replace(".[]", "[]")


def comment_line(text: str) -> str:
    """One comment line as Markdown: an indented ``word  meaning`` line of a list is "`word`: meaning;", a YAML
    example (``- key: ...``) code."""
    item = re.match(r"^ {2,}(\S+) {2,}(.*)$", text)
    if item:
        return f"`{item[1]}`: {item[2]};"
    text = text.strip()
    return f"`{text}`" if text.startswith("- ") else text


def type_text(schema: Schema) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(f"`{choice}`" for choice in schema["enum"])
    if "anyOf" in schema:
        branches = schema["anyOf"]
        if any(b.get("pattern") == QUANTITY_PATTERN for b in branches):
            return "quantity"
        return " or ".join(dict.fromkeys(type_text(b) for b in branches))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind:
        return str(kind)
    return "object" if "properties" in schema else "any"


def default_text(value: Any) -> str:
    if value is MISSING:
        return "(unset)"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def describe(schema: Schema, comment: str | None) -> str:
    return comment or str(schema.get("description", ""))


def walk(
    schema: Schema,
    values: Any,
    notes: Mapping[str, str],
    path: str,
    shown: str,
    *,
    skip: frozenset[str] = frozenset(),
    given_only: bool = False,
) -> Iterator[Row]:
    """Rows of the keys under ``schema``: ``path`` is the key's path in its own values.yaml (for its comment),
    ``shown`` the path a user sets (the subchart's name in front); ``given_only``: only the keys ``values``
    sets. A container's resources are one row."""
    properties: dict[str, Schema] = schema.get("properties", {})
    given = values if isinstance(values, dict) else {}
    order = [k for k in given if k in properties] + [k for k in properties if k not in given]
    for key in order:
        if key in SKIPPED or key in skip or (given_only and key not in given):
            continue
        child = properties[key]
        value = given.get(key, MISSING)
        own, user = f"{path}.{key}" if path else key, f"{shown}.{key}" if shown else key
        comment = notes.get(own)
        if child.get("properties") and child != RESOURCES:
            if comment or child.get("description"):
                yield Row(user, "object", "", describe(child, comment))
            yield from walk(child, value, notes, own, user, given_only=given_only)
        elif child.get("type") == "array" and "properties" in child.get("items", {}):
            items = value if isinstance(value, list) else []
            count = f"{len(items)} item{'s' if len(items) != 1 else ''}" if value is not MISSING else "(unset)"
            yield Row(user, "array", count, describe(child, comment) + " Each item:")
            yield from walk(child["items"], items[0] if items else MISSING, notes, f"{own}[]", f"{user}[]")
        else:
            yield Row(user, type_text(child), default_text(value), describe(child, comment))


def load(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """A values.yaml's values and its comments."""
    text = path.read_text()
    return yaml.safe_load(text) or {}, comments(text)


def table(rows: Iterable[Row]) -> list[str]:
    return ["| key | type | default | description |", "|---|---|---|---|", *(row.markdown() for row in rows)]


def chart_description(name: str) -> str:
    """What the subchart is, from its Chart.yaml (without the note that it renders only within the umbrella)."""
    description = str(yaml.safe_load((CHART / "charts" / name / "Chart.yaml").read_text())["description"])
    return description.split("; a subchart of black-friday")[0]


def reference() -> str:
    """The generated section: the umbrella's own keys, then each subchart's."""
    schemas = all_schemas()
    umbrella, umbrella_notes = load(CHART / "values.yaml")
    subcharts = set(SERVICES + OTHERS)
    lines = [
        "<!-- Generated by `make generate` (tools/bftools/chartgen/valuesdoc.py) from the values.yaml files and the",
        "     values schemas; a test fails when it is not what they build. -->",
        "",
        "### The umbrella (`charts/black-friday`)",
        "",
        *table(walk(schemas["."], umbrella, umbrella_notes, "", "", skip=frozenset(subcharts | {"enabled"}))),
        "",
        "### The services: `api`, `bridge`, `writer`, `consumer`",
        "",
        "Each service takes every key of `global.serviceDefaults` (above) for itself alone: "
        "`<service>.<key>` wins over `global.serviceDefaults.<key>` (e.g. `api.replicaCount`, "
        "`consumer.resources`). Besides, each has these keys:",
        "",
        *table(service_keys(schemas["charts/api"])),
        "",
        "Each service's own values.yaml sets these:",
    ]
    for name in SERVICES:
        values, notes = load(CHART / "charts" / name / "values.yaml")
        values = {"enabled": umbrella.get(name, {}).get("enabled", MISSING), **values}
        notes = {"enabled": enabled_note(name, {}), **notes}
        skip = frozenset({"global", "config"})
        rows = list(walk(schemas[f"charts/{name}"], values, notes, "", name, skip=skip, given_only=True))
        rows.append(Row(f"{name}.config", "object", default_text(values.get("config", {})), CONFIG_NOTE))
        lines += ["", f"#### `{name}`: {chart_description(name)}", "", *table(rows)]
    for name in OTHERS:
        values, notes = load(CHART / "charts" / name / "values.yaml")
        values = {"enabled": umbrella.get(name, {}).get("enabled", MISSING), **values}
        notes = {"enabled": enabled_note(name, umbrella_notes), **notes}
        rows = list(walk(schemas[f"charts/{name}"], values, notes, "", name, skip=frozenset({"global"})))
        lines += ["", f"### `{name}`: {chart_description(name)}", "", *table(rows)]
    return "\n".join(lines) + "\n"


def service_keys(schema: Schema) -> list[Row]:
    """The keys every service subchart has and global.serviceDefaults has not (one row each, for all four)."""
    own = [k for k in SERVICE if k not in SERVICE_COMMON and k not in SKIPPED and k != "global"]
    return [
        Row(f"<service>.{k}", type_text(schema["properties"][k]), "", describe(schema["properties"][k], None))
        for k in own
    ]


def enabled_note(name: str, umbrella_notes: Mapping[str, str]) -> str:
    """What `<subchart>.enabled` does: the umbrella's dependency condition, and its comment on the subchart."""
    note = umbrella_notes.get(name, "")
    return f"install {name} with the release{': ' + note if note else ''}"


def readme() -> str:
    """charts/black-friday/README.md with its values section as the code builds it."""
    if not README.exists():
        raise ValueError(f"{README} is missing: it holds the hand-written guide around the values section")
    return replace_section(README.read_text(), SECTION, reference(), README)
