"""The pieces of `make cluster-load` (tools/bftools/cluster/load.py) that need no cluster: the values of the
experiment, CPU quantities, the samples' CSV and plot, and the outcome it reports."""

from __future__ import annotations

import datetime
from pathlib import Path

from bftools.cluster import load
from bftools.runtime.docs import replace_section
from tests.chart.conftest import VALUES, render
from tests.conftest import ROOT


def test_the_experiment_only_makes_the_api_hpa_quick() -> None:
    """values/hpa-experiment.yaml keeps values/dev.yaml's bounds and target and adds a short scale-down."""
    dev = render(environment="dev").get("HorizontalPodAutoscaler", "bf-api")["spec"]
    quick = render("-f", str(VALUES / "hpa-experiment.yaml"), environment="dev")
    spec = quick.get("HorizontalPodAutoscaler", "bf-api")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 3)
    assert spec["metrics"] == dev["metrics"]
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 30
    assert "behavior" not in dev
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 30
    # nothing else changes
    plain = render(environment="dev")
    for kind in ("Deployment", "StatefulSet", "Service", "ConfigMap"):
        assert quick.of_kind(kind) == plain.of_kind(kind)
    bridge = quick.get("HorizontalPodAutoscaler", "bf-bridge")["spec"]
    assert bridge == plain.get("HorizontalPodAutoscaler", "bf-bridge")["spec"]


def test_cpu_quantities_of_the_metrics_api() -> None:
    assert load.cpu_millicores("150m") == 150
    assert load.cpu_millicores("2500000n") == 2.5
    assert load.cpu_millicores("1500u") == 1.5
    assert load.cpu_millicores("1") == 1000


def samples() -> list[load.Sample]:
    def at(t: float, phase: str, replicas: int, cpu: float | None) -> load.Sample:
        return load.Sample(t, phase, replicas, replicas, replicas, cpu, 10.0 * replicas, 1, 1)

    return [
        at(-5, "idle", 1, None),
        at(0, "idle", 1, 2),
        at(5, "load", 1, 120),
        at(10, "load", 3, 60),
        at(20, "load", 3, 50),
        at(25, "cooldown", 3, 5),
        at(40, "cooldown", 2, 0),
        at(55, "cooldown", 1, 0),
    ]


def test_the_outcome_says_when_the_api_scaled_up_and_back_down() -> None:
    done = load.outcome(samples(), None, 22.0, 1)
    assert done.peak_replicas == 3
    assert done.scaled_up_after == 10
    assert done.back_to_min_after == 33
    assert done.peak_cpu_percent == 120
    assert done.summary(1, 3).splitlines()[0] == (
        "api HPA: 1 -> 3 replicas (10s after the load started), back to 1 33s after it stopped"
    )
    stuck = load.outcome(samples()[:6], None, 22.0, 1)
    assert "NOT back to 1" in stuck.summary(1, 3)


def test_the_summary_goes_into_docs_local_cluster_md_with_the_run() -> None:
    """--write-doc: the run's parameters and its summary, between the markers cluster-load."""
    done = load.outcome(samples(), None, 22.0, 1)
    text = load.doc_section(done, load.Experiment(users=80, seconds=60), (1, 3, 30), 294.4, datetime.date(2026, 12, 1))
    assert text.splitlines()[0] == (
        "Written by `make cluster-load` on 2026-12-01: 80 Locust users (started 20 a second) for 60 s against the "
        "api, whose HPA runs 1-3 replicas at 30 % CPU; from the install to the end of the scale-down, 4 min 54 s."
    )
    assert text.split("```")[1].strip() == done.summary(1, 3)
    doc = (ROOT / "docs" / "local-cluster.md").read_text()
    assert f"<!-- cluster-load:begin -->\n{text}\n<!-- cluster-load:end -->" in replace_section(
        doc, "cluster-load", text
    )


def test_samples_go_to_a_csv_and_a_plot(tmp_path: Path) -> None:
    rows = load.with_rps(samples(), [(0.0, 10.0), (6.0, 40.0)])
    assert [r.rps for r in rows] == [None, None, 10.0, 40.0, 40.0, None, None, None]
    path = load.write_csv(rows, tmp_path / "run.csv")
    assert path.read_text().splitlines()[0] == ",".join(load.COLUMNS)
    assert load.read_csv(path) == rows
    png = load.plot(rows, tmp_path / "run.png", "test", 30, 3)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_locust_history_gives_requests_per_second(tmp_path: Path) -> None:
    history = tmp_path / "locust_stats_history.csv"
    history.write_text(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s\n"
        "1000,10,POST,/purchase,5.0,0\n"
        "1000,10,,Aggregated,5.0,0\n"
        "1001,20,,Aggregated,N/A,0\n"
        "1002,20,,Aggregated,12.5,0\n"
    )
    assert load.locust_rps(history, 999.5) == [(0.5, 5.0), (2.5, 12.5)]
    assert load.locust_rps(tmp_path / "absent.csv", 0) == []
