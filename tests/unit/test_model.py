"""The tests' own model of the dashboard (tests/model.py) on hand-checked cases: it is the yardstick."""

from __future__ import annotations

from tests.model import Line, expected_report


def test_ties_are_broken_by_product_id_bytes_as_a_sorted_set_does() -> None:
    lines = [Line("Ropa", "b", 100, 2), Line("Ropa", "B", 100, 2), Line("Ropa", "a", 100, 2)]
    report = expected_report(lines, "Ropa", "b", [100])
    # bytes order: "B" < "a" < "b"
    assert report["worst_product"] == {"id": "B", "units": 2}
    assert report["best_product"] == {"id": "b", "units": 2}


def test_averages_and_extremes() -> None:
    lines = [Line("Hogar", "x", 1000, 1), Line("Hogar", "y", 2002, 2), Line("Belleza", "z", 5, 3)]
    report = expected_report(lines, "Belleza", "z", [5])
    assert report["total_sales"] == 3
    assert report["max_price"] == 20.02
    assert report["min_price"] == 0.05
    assert report["categories"]["Hogar"]["avg_units"] == 1.5
    assert report["categories"]["Hogar"]["avg_price"] == 15.01
    assert list(report["categories"]) == ["Hogar", "Belleza"]


def test_price_history_keeps_the_most_recent_up_to_the_cap() -> None:
    report = expected_report([Line("Belleza", "z", 1, 1)], "Belleza", "z", [100, 200, 300], cap=2)
    assert report["focus"]["prices"] == [2.0, 3.0]
