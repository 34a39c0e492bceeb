"""Files built from code and committed: the charts' values schemas and the Grafana dashboards.

python -m devstack generate          write them
python -m devstack generate --check  exit 1 naming every file that is not what the code builds
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devstack import paths
from devstack.dashboards import DASHBOARDS
from devstack.schemas import all_schemas

CHART = paths.ROOT / "charts" / "black-friday"
GRAFANA_FILES = CHART / "charts" / "grafana" / "files"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated() -> dict[Path, str]:
    files = {CHART / directory / "values.schema.json": render(schema) for directory, schema in all_schemas().items()}
    files.update({GRAFANA_FILES / name: render(build()) for name, build in DASHBOARDS.items()})
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
