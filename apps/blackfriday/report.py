"""The dashboard's figures as JSON (``make report`` / ``bf-report``), read from Valkey in one snapshot.

Contract (floats rounded to 2 decimals in the output only):

    {"total_sales": N, "max_price": x, "min_price": x,
     "best_product": {"id": "...", "units": n}, "worst_product": {"id": "...", "units": n},
     "categories": {"Belleza": {"sales": n, "units": n, "avg_units": x, "avg_price": x,
                                "best_product": {...}, "worst_product": {...}}, ...},
     "focus": {"category": "Belleza", "tracked_product": "...", "prices": [x, ...]}}

Products are ordered by (units, id) ascending, as a Valkey sorted set orders them: the worst product is
the first, the best the last. Only categories with sales appear. With no sales at all, the prices and
products are null.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import valkey

from blackfriday import keys
from blackfriday.sale import Category
from blackfriday.settings import Env, SettingsError
from blackfriday.valkeyconn import Login, connect_as

Ranked = tuple[str, int]  # (product id, units)


@dataclass(frozen=True, slots=True)
class CategoryFigures:
    sales: int
    units: int
    price_cents: int
    worst: Ranked | None
    best: Ranked | None


@dataclass(frozen=True, slots=True)
class Figures:
    """The raw figures as Valkey holds them."""

    total_sales: int = 0
    max_price: str | None = None
    min_price: str | None = None
    worst: Ranked | None = None
    best: Ranked | None = None
    categories: dict[str, CategoryFigures] = field(default_factory=dict)
    focus: str = Category.Belleza.name
    tracked_product: str | None = None
    prices: list[str] = field(default_factory=list)


def _product(ranked: Ranked | None) -> dict[str, Any] | None:
    return None if ranked is None else {"id": ranked[0], "units": ranked[1]}


def _money(text: str | None) -> float | None:
    return None if text is None else round(float(text), 2)


def build_report(figures: Figures) -> dict[str, Any]:
    categories: dict[str, Any] = {}
    for category in Category:
        cat = figures.categories.get(category.name)
        if cat is None or cat.sales == 0:
            continue
        categories[category.name] = {
            "sales": cat.sales,
            "units": cat.units,
            "avg_units": round(cat.units / cat.sales, 2),
            "avg_price": round(cat.price_cents / cat.sales / 100, 2),
            "best_product": _product(cat.best),
            "worst_product": _product(cat.worst),
        }
    return {
        "total_sales": figures.total_sales,
        "max_price": _money(figures.max_price),
        "min_price": _money(figures.min_price),
        "best_product": _product(figures.best),
        "worst_product": _product(figures.worst),
        "categories": categories,
        "focus": {
            "category": figures.focus,
            "tracked_product": figures.tracked_product,
            "prices": [round(float(p), 2) for p in figures.prices],
        },
    }


def _ranked(rows: Sequence[tuple[bytes, float]]) -> Ranked | None:
    if not rows:
        return None
    member, score = rows[0]
    return member.decode(), int(score)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def read_figures(client: valkey.Valkey, focus: Category) -> Figures:
    """Read everything in one MULTI/EXEC so that the figures are one consistent snapshot."""
    pipe = client.pipeline(transaction=True)
    pipe.get(keys.SALES_TOTAL)
    pipe.get(keys.PRICE_MAX)
    pipe.get(keys.PRICE_MIN)
    pipe.zrange(keys.PRODUCTS_UNITS, 0, 0, withscores=True)
    pipe.zrange(keys.PRODUCTS_UNITS, -1, -1, withscores=True)
    pipe.hgetall(keys.CATEGORY_SALES)
    pipe.hgetall(keys.CATEGORY_UNITS)
    pipe.hgetall(keys.CATEGORY_PRICE_CENTS)
    for category in Category:
        pipe.zrange(keys.category_products(category), 0, 0, withscores=True)
        pipe.zrange(keys.category_products(category), -1, -1, withscores=True)
    pipe.get(keys.category_tracked(focus))
    pipe.xrange(keys.category_prices(focus))
    results = pipe.execute()  # type: ignore[no-untyped-call]
    total, max_price, min_price, worst, best, sales, units, cents = results[:8]
    per_category = results[8 : 8 + 2 * len(Category)]
    tracked, prices = results[8 + 2 * len(Category) :]
    categories: dict[str, CategoryFigures] = {}
    for index, category in enumerate(Category):
        name = category.name.encode()
        if name in sales:
            categories[category.name] = CategoryFigures(
                sales=int(sales[name]),
                units=int(units.get(name, 0)),
                price_cents=int(cents.get(name, 0)),
                worst=_ranked(per_category[2 * index]),
                best=_ranked(per_category[2 * index + 1]),
            )
    return Figures(
        total_sales=int(total or 0),
        max_price=_text(max_price),
        min_price=_text(min_price),
        worst=_ranked(worst),
        best=_ranked(best),
        categories=categories,
        focus=focus.name,
        tracked_product=_text(tracked),
        prices=[fields[b"precio"].decode() for _, fields in prices],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """bf-report: print the dashboard's figures as JSON.

    Settings: VALKEY_ADDR (host:port, or sentinel://host:port,.../<primary name>), VALKEY_USER (a user
    that may read the bf: keys: the chart's "reader"), VALKEY_PASSWORD, VALKEY_DB, FOCUS_CATEGORY.
    """
    parser = argparse.ArgumentParser(prog="bf-report", description=main.__doc__)
    parser.add_argument("--indent", type=int, default=None, help="pretty-print with this indent")
    args = parser.parse_args(argv)
    env = Env(os.environ)
    try:
        addr = env.valkey("VALKEY_ADDR", "localhost:6379")
        focus = env.category("FOCUS_CATEGORY", Category.Belleza)
        db = env.integer("VALKEY_DB", 0, minimum=0)
    except SettingsError as exc:
        print(f"bf-report: {exc}", file=sys.stderr)
        return 2
    try:
        with connect_as(addr, Login.from_env(os.environ), db) as client:
            figures = read_figures(client, focus)
    except valkey.ValkeyError as exc:
        print(f"bf-report: cannot read Valkey at {addr}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(build_report(figures), ensure_ascii=False, indent=args.indent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
