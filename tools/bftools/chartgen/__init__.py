"""bftools.chartgen: the generators of the chart's committed files (python -m bftools.chartgen, or make generate).

  charts/black-friday/**/values.schema.json   schemas.py (from schemaparts.py): every values file checked at render time
  charts/black-friday/charts/grafana/files/   dashboards.py: the Grafana dashboards
  docs/configuration.md                       configdoc.py: every setting of every service
  charts/black-friday/README.md (its Values)  valuesdoc.py: every key of the chart's values

Each is built from the code that owns its facts (the services' settings declarations, the Valkey key
names, the categories), and a test fails when a committed file is not what this package builds.
"""

from __future__ import annotations

from typing import Final

from bftools.runtime.paths import ROOT

CHART: Final = ROOT / "charts" / "black-friday"
GRAFANA_FILES: Final = CHART / "charts" / "grafana" / "files"
