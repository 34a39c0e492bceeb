"""bftools: the project's tooling, one package beside the product (apps/blackfriday), installed editable
from the same pyproject.toml; it runs from the checkout and is not part of the service image.

  runtime     what the others share: where things are (the checkout, the caches, the programs), ports,
              background processes started and stopped by pid
  stack       the local stack: Kafka, Valkey and the four services as processes (make up/down/status/
              report/snapshot/demo; python -m bftools.stack)
  chaos       the fault matrix on a stack of its own (make chaos; python -m bftools.chaos)
  bench       the benchmarks (make bench; python -m bftools.bench)
  dashboard   the Grafana data source's queries in Python and the dashboard drawn into a PNG
  cluster     the local one-node Kubernetes (make cluster-up/down/status/report/load; python -m bftools.cluster)
  release     the image, the chart's images and the chart pushed to a registry (scripts/push-images)
  chartgen    the generators of the chart's committed files (make generate; python -m bftools.chartgen)
"""
