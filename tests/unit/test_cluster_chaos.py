"""The pieces of `make cluster-chaos` (tools/bftools/cluster/chaos.py) that need no cluster: its rows, how
long the figures stood still, and which answers fail a row."""

from __future__ import annotations

from bftools.chaos.ledger import Fault, Result
from bftools.cluster.chaos import Outcome, Plan, Stillness, faults


def test_the_full_matrix_tries_what_operators_do_and_the_short_one_three_of_it() -> None:
    full = [f.name for f in faults(Plan())]
    assert full[:4] == [f"rollout restart {c}" for c in ("api", "bridge", "writer", "consumer")]
    assert "helm upgrade: a new image tag" in full
    assert "delete the Valkey primary" in full
    assert full[-1] == "SIGKILL the Kafka broker"
    assert {f.name for f in faults(Plan(short=True))} <= set(full)
    assert len(faults(Plan(short=True))) == 3


def test_the_figures_stood_still_for_the_longest_stretch_without_growth() -> None:
    samples = [(0.0, 10), (0.5, 12), (1.0, 12), (1.5, None), (2.0, 12), (2.5, 15), (3.0, 18)]
    stillness = Stillness(lambda: None, samples=samples)
    assert stillness.longest(0.0, 3.0) == 2.0  # from 0.5 (12) until 2.5 (15)
    assert stillness.longest(2.5, 3.0) == 0.5  # growing at every sample: the sampling's half second
    assert stillness.longest(1.4, 1.6) == float("inf")  # no answer at all: a failure, not a 0


def _result(kind: str, created: int, unavailable: int) -> Result:
    fault = Fault("f", "api", kind, 0)
    return Result(fault, sent=created + unavailable, created=created, unavailable=unavailable)


def test_a_503_fails_a_row_where_nothing_is_down_but_not_the_broker_row() -> None:
    outcome = Outcome([_result("rollout", 99, 1), _result("broker", 90, 10), _result("delete", 100, 0)], [0, 0, 0], 1)
    assert [outcome.row_ok(i) for i in range(3)] == [False, True, True]
    assert not outcome.ok
    still = Outcome([_result("valkey", 100, 0)], [15.5], 1)
    assert not still.ok  # the figures stood still past 15 s
