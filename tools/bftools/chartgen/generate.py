"""The generated files and their content, and which committed ones differ from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bftools.chartgen import CHART, GRAFANA_FILES
from bftools.chartgen.configdoc import configuration_doc
from bftools.chartgen.dashboards import DASHBOARDS
from bftools.chartgen.schemas import all_schemas
from bftools.chartgen.valuesdoc import README, readme
from bftools.runtime.paths import ROOT


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[Path, str]:
    files = {CHART / directory / "values.schema.json": render(schema) for directory, schema in all_schemas().items()}
    files.update({GRAFANA_FILES / name: render(build()) for name, build in DASHBOARDS.items()})
    files[ROOT / "docs" / "configuration.md"] = configuration_doc()
    files[README] = readme()
    return files


def stale() -> list[Path]:
    """Generated files whose committed content differs from what the code builds."""
    return [path for path, content in generated().items() if not path.exists() or path.read_text() != content]


def write() -> list[Path]:
    changed = stale()
    for path, content in generated().items():
        if path in changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    return changed
