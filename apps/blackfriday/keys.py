"""The Valkey key schema, in one place (docs/valkey-keys.md describes it for humans).

All keys start with ``bf:``. The consumer writes them in one Lua script per batch (consumer/apply.lua);
the report and every dashboard panel read them with one command each.

| key | type | content | panel |
|---|---|---|---|
| bf:sales:total | string | number of sales applied | Total sales |
| bf:price:max / bf:price:min | string | highest / lowest price seen, "123.45" | Precio más alto / más bajo |
| bf:products:units | zset | product id -> units sold, all categories | Producto más / menos vendido |
| bf:category:sales | hash | category -> number of sales | Total de reportes por categoría |
| bf:category:units | hash | category -> units sold | (report) |
| bf:category:price_cents | hash | category -> sum of prices in cents | (report) |
| bf:category:avg_units | hash | category -> units / sales, "2.50" | Producto promedio por categoría |
| bf:category:avg_price | hash | category -> price sum / sales, "120.25" | Precio promedio por categoría |
| bf:category:<C>:products | zset | product id -> units sold in category C | focus: más / menos vendido |
| bf:focus:<C>:tracked | string | first product seen in focus category C | focus: tracked product |
| bf:focus:<C>:prices | stream | prices of the tracked product, capped | focus: price time series |
| bf:throughput | stream | one entry per second with sales applied in it, capped | Ventas por segundo |
| bf:throughput:current | hash | the second being counted (sec, count, nz) | (internal) |
| bf:dedup:<hour> | set | ids of sales accepted in that hour, expires | (internal) |
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
THROUGHPUT_CURRENT: Final = PREFIX + "throughput:current"
DEDUP_PREFIX: Final = PREFIX + "dedup:"

#: Sale ids are remembered per hour of their acceptance time.
DEDUP_BUCKET_MS: Final = 3_600_000


def category_products(category: Category | str) -> str:
    return f"{PREFIX}category:{_name(category)}:products"


def focus_tracked(category: Category | str) -> str:
    return f"{PREFIX}focus:{_name(category)}:tracked"


def focus_prices(category: Category | str) -> str:
    return f"{PREFIX}focus:{_name(category)}:prices"


def dedup_bucket(accepted_at_ms: int) -> str:
    return f"{DEDUP_PREFIX}{accepted_at_ms // DEDUP_BUCKET_MS}"


def _name(category: Category | str) -> str:
    return category.name if isinstance(category, Category) else category
