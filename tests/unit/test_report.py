"""Building the report from Valkey's raw figures: rounding, ordering, empty state, only categories with sales."""

from __future__ import annotations

from blackfriday.report import CategoryFigures, Figures, build_report


def test_empty_pipeline_reports_zero_and_nulls() -> None:
    assert build_report(Figures()) == {
        "total_sales": 0,
        "max_price": None,
        "min_price": None,
        "best_product": None,
        "worst_product": None,
        "categories": {},
        "focus": {"category": "Belleza", "tracked_product": None, "prices": []},
    }


def test_figures_become_the_report_contract() -> None:
    figures = Figures(
        total_sales=3,
        max_price="300.00",
        min_price="0.10",
        worst=("A", 1),
        best=("B", 7),
        categories={
            "Ropa": CategoryFigures(sales=3, units=7, price_cents=30010, worst=("A", 1), best=("B", 6)),
            "Hogar": CategoryFigures(sales=0, units=0, price_cents=0, worst=None, best=None),
        },
        focus="Ropa",
        tracked_product="A",
        prices=["0.10", "300.00"],
    )
    report = build_report(figures)
    assert report["categories"] == {
        "Ropa": {
            "sales": 3,
            "units": 7,
            "avg_units": 2.33,
            "avg_price": 100.03,
            "best_product": {"id": "B", "units": 6},
            "worst_product": {"id": "A", "units": 1},
        }
    }
    assert (report["max_price"], report["min_price"]) == (300.0, 0.1)
    assert report["focus"] == {"category": "Ropa", "tracked_product": "A", "prices": [0.1, 300.0]}


def test_categories_come_in_enum_order() -> None:
    one = CategoryFigures(sales=1, units=1, price_cents=100, worst=("x", 1), best=("x", 1))
    figures = Figures(total_sales=4, categories={"Belleza": one, "Electronica": one, "Hogar": one, "Ropa": one})
    assert list(build_report(figures)["categories"]) == ["Electronica", "Ropa", "Hogar", "Belleza"]
