"""The Valkey key schema: the names every writer and reader uses.

docs/valkey-keys.md documents each key (type, content, which panel reads it, bounds). The consumer writes
them in one Lua script per batch (consumer/apply.lua); the report and each dashboard panel read them with
one command each.
"""

from __future__ import annotations

from typing import Final

from blackfriday.sale import Category

PREFIX: Final = "bf:"

SALES_TOTAL: Final = PREFIX + "sales:total"
PRICE_MAX: Final = PREFIX + "price:max"
PRICE_MIN: Final = PREFIX + "price:min"
PRODUCTS_UNITS: Final = PREFIX + "products:units"
CATEGORY_SALES: Final = PREFIX + "category:sales"
CATEGORY_UNITS: Final = PREFIX + "category:units"
CATEGORY_PRICE_CENTS: Final = PREFIX + "category:price_cents"
CATEGORY_AVG_UNITS: Final = PREFIX + "category:avg_units"
CATEGORY_AVG_PRICE: Final = PREFIX + "category:avg_price"
THROUGHPUT: Final = PREFIX + "throughput"
#: The second being counted for the throughput stream: second, sales, owes_zero (apply.lua).
THROUGHPUT_CLOCK: Final = PREFIX + "throughput:clock"
#: Each Kafka partition's last applied offset (exactly once: apply.lua).
APPLIED_OFFSETS: Final = PREFIX + "applied_offsets"


def category_products(category: Category | str) -> str:
    return f"{PREFIX}category:{_name(category)}:products"


def category_tracked(category: Category | str) -> str:
    """The first product seen in the category (the one whose price the dashboard follows)."""
    return f"{PREFIX}category:{_name(category)}:tracked"


def category_prices(category: Category | str) -> str:
    """The tracked product's prices in arrival order (a capped stream)."""
    return f"{PREFIX}category:{_name(category)}:prices"


def _name(category: Category | str) -> str:
    return category.name if isinstance(category, Category) else category
