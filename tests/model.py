"""An independent, plain-Python model of what the dashboard must show for a list of sales.

The tests compare the pipeline's real figures (Valkey, via `make report`) with this model. It shares no
aggregation code with the consumer: sums and orderings are computed here from scratch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

CATEGORY_ORDER = ("Electronica", "Ropa", "Hogar", "Belleza")


@dataclass(frozen=True)
class Line:
    """One stored sale: canonical category name, product, price in cents, quantity."""

    category: str
    product: str
    cents: int
    quantity: int


def _ranked(units: dict[str, int]) -> list[tuple[str, int]]:
    # A Valkey sorted set orders by score, then by member bytes.
    return sorted(units.items(), key=lambda item: (item[1], item[0].encode()))


def _product(ranking: list[tuple[str, int]], index: int) -> dict[str, Any] | None:
    if not ranking:
        return None
    product, units = ranking[index]
    return {"id": product, "units": units}


def expected_report(
    lines: Sequence[Line], focus: str, tracked: str | None, tracked_prices: Iterable[int], cap: int = 1000
) -> dict[str, Any]:
    """The report `make report` must print; ``tracked_prices`` are the tracked product's cents in arrival order."""
    overall: dict[str, int] = defaultdict(int)
    per_category: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sales: dict[str, int] = defaultdict(int)
    units: dict[str, int] = defaultdict(int)
    cents: dict[str, int] = defaultdict(int)
    for line in lines:
        overall[line.product] += line.quantity
        per_category[line.category][line.product] += line.quantity
        sales[line.category] += 1
        units[line.category] += line.quantity
        cents[line.category] += line.cents
    ranking = _ranked(overall)
    categories = {}
    for name in CATEGORY_ORDER:
        if sales[name] == 0:
            continue
        cat_ranking = _ranked(per_category[name])
        categories[name] = {
            "sales": sales[name],
            "units": units[name],
            "avg_units": round(units[name] / sales[name], 2),
            "avg_price": round(cents[name] / sales[name] / 100, 2),
            "best_product": _product(cat_ranking, -1),
            "worst_product": _product(cat_ranking, 0),
        }
    prices = [round(c / 100, 2) for c in tracked_prices][-cap:]
    return {
        "total_sales": len(lines),
        "max_price": round(max(line.cents for line in lines) / 100, 2) if lines else None,
        "min_price": round(min(line.cents for line in lines) / 100, 2) if lines else None,
        "best_product": _product(ranking, -1),
        "worst_product": _product(ranking, 0),
        "categories": categories,
        "focus": {"category": focus, "tracked_product": tracked, "prices": prices},
    }
