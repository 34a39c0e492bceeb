# black-friday: the two commands are `make demo` (run the product) and `make test` (run the tests).
# Everything the targets need is installed by scripts/setup into git-ignored folders.
SHELL := /bin/bash
PY := .venv/bin/python
# make test's pytest-xdist workers: the suites mostly wait (brokers, pods), so three share 2 cores well: one
# runs the cluster's tests (one cluster: one worker) while two run the rest (docs/testing.md#workers).
TEST_WORKERS ?= 3
# make test RECORD_TIMES=1: write each suite's time and the run's wall time into docs/testing.md.
RECORD_TIMES ?=
# The product (apps/blackfriday), the tooling (tools/bftools, installed editable beside it) and the tests.
PY_SOURCES := apps tools tests

.PHONY: help setup demo up down status snapshot report chaos soak bench test generate lint format lock clean \
	cluster-up cluster-down cluster-status cluster-report cluster-load cluster-lag cluster-chaos

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: ## install everything (Python venv, Kafka jars, helm, registry tools)
	@scripts/setup all

demo: ## fresh local stack + 30 s of Locust + the dashboard's figures, then stop
	@scripts/setup python kafka
	@$(PY) -m bftools.stack demo

up: ## start Valkey, Kafka and the four services in the background (FRESH=1: wipe the data first)
	@scripts/setup python kafka
	@$(PY) -m bftools.stack up $(if $(FRESH),--fresh)

down: ## stop everything `make up` started (the data stays)
	@if [ -x $(PY) ]; then $(PY) -m bftools.stack down; else echo "nothing was running"; fi

snapshot: ## draw the sales dashboard of the running stack into a PNG (PNG=out/dashboard.png)
	@scripts/setup python
	@$(PY) -m bftools.stack snapshot --png $(or $(PNG),out/dashboard.png)

bench: ## the benchmarks: table on stdout, CSV and plots in out/bench/, docs/performance.md (its run time too) and scaling.md
	@scripts/setup python kafka bench
	@$(PY) -m bftools.bench --write-docs

chaos: ## the fault matrix under load on a stack of its own, a Prometheus beside it; the table (and the run's length) to docs/reliability.md
	@scripts/setup python kafka helm monitoring
	@$(PY) -m bftools.chaos --write-doc

soak: ## millions of sales through the consumer: Valkey's memory and each service's RSS to docs/reliability.md, docs/soak.{csv,png}
	@scripts/setup python kafka bench
	@$(PY) -m bftools.soak --write-doc

status: ## show what `make up` runs
	@if [ -x $(PY) ]; then $(PY) -m bftools.stack status; else echo "not running"; fi

cluster-up: ## start the local one-node Kubernetes (built once: docs/local-cluster.md), print its KUBECONFIG and registry
	@scripts/setup python kafka registry k8s
	@$(PY) -m bftools.cluster up

cluster-down: ## stop the local Kubernetes: its processes, network namespace, routes and mounts
	@if [ -x $(PY) ]; then $(PY) -m bftools.cluster down; else echo "nothing was running"; fi

cluster-status: ## show what the local Kubernetes runs and what is dead
	@if [ -x $(PY) ]; then $(PY) -m bftools.cluster status; else echo "not running"; fi

cluster-load: ## the HPA experiment on the local Kubernetes: Locust scales the api up and down; docs/local-cluster.md, docs/cluster-load.{csv,png}
	@scripts/setup python kafka helm registry k8s
	@$(PY) -m bftools.cluster load --write-doc

cluster-lag: ## KEDA scales the consumer on Kafka lag during a burst of sales on the local Kubernetes; docs/local-cluster.md, docs/cluster-lag.{csv,png}
	@scripts/setup python kafka helm registry k8s monitoring keda
	@$(PY) -m bftools.cluster lag --write-doc

cluster-chaos: ## rollouts, upgrades, pod loss, Valkey failover, a broker kill under load on the local Kubernetes; docs/reliability.md
	@scripts/setup python kafka helm registry k8s
	@$(PY) -m bftools.cluster chaos --write-doc

cluster-report: ## make report for a release on the local Kubernetes (RELEASE=bf NAMESPACE=black-friday)
	@$(PY) -m bftools.cluster report --release $(or $(RELEASE),bf) --namespace $(or $(NAMESPACE),black-friday)

report: ## print the dashboard's figures as JSON
	@scripts/setup python
	@$(PY) -m bftools.stack report

test: ## set up what is missing, check style and types, run every suite (RECORD_TIMES=1: their times to docs/testing.md)
	@scripts/setup all
	@$(MAKE) --no-print-directory lint
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(if $(RECORD_TIMES),--record-times=docs/testing.md)

generate: ## rewrite the generated files (values schemas, dashboards, the chart's values reference, docs/configuration.md)
	@scripts/setup python
	@$(PY) -m bftools.chartgen

lint: ## ruff (lint + format check) and mypy --strict
	@$(PY) -m ruff check $(PY_SOURCES)
	@$(PY) -m ruff format --check $(PY_SOURCES)
	@$(PY) -m mypy $(PY_SOURCES)

format: ## apply ruff's formatting and safe fixes
	@$(PY) -m ruff format $(PY_SOURCES)
	@$(PY) -m ruff check --fix $(PY_SOURCES)

lock: ## re-pin every Python dependency into constraints.txt
	@scripts/setup python
	@rm -rf .cache/lock-venv && python3 -m venv .cache/lock-venv
	@.cache/lock-venv/bin/pip install --quiet -e '.[dev]'
	@{ echo "# Exact versions of every Python dependency (the lock). Regenerate with: make lock"; \
	   .cache/lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e '; } > constraints.txt
	@rm -rf .cache/lock-venv && echo "constraints.txt updated"

clean: ## remove the local stack's state and generated code (not the installed tools)
	@$(MAKE) --no-print-directory down
	@$(MAKE) --no-print-directory cluster-down
	@rm -rf .stack apps/blackfriday/pb
