"""The consumer's writes to Valkey: one Lua script call per batch (apply.lua)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

import valkey

from blackfriday import keys
from blackfriday.sale import Category, Sale

_SCRIPT: Final = resources.files("blackfriday.consumer").joinpath("apply.lua").read_text()


@dataclass(frozen=True, slots=True)
class StoreOptions:
    #: How long the ids of an hour's sales are remembered after that hour (redelivery window).
    dedup_ttl_seconds: int
    #: Entries kept in each category's tracked-product price history.
    price_history_cap: int
    #: Seconds kept in the throughput stream.
    throughput_cap: int


@dataclass(frozen=True, slots=True)
class Applied:
    applied: int
    duplicates: int


class Store:
    def __init__(self, client: valkey.Valkey, options: StoreOptions) -> None:
        self._client = client
        self._options = options
        self._script = client.register_script(_SCRIPT)
        # The order apply.lua reads them in: its GLOBAL_KEYS, then CATEGORY_KEYS for each category.
        self._keys = [
            keys.SALES_TOTAL,
            keys.PRICE_MAX,
            keys.PRICE_MIN,
            keys.PRODUCTS_UNITS,
            keys.CATEGORY_SALES,
            keys.CATEGORY_UNITS,
            keys.CATEGORY_PRICE_CENTS,
            keys.CATEGORY_AVG_UNITS,
            keys.CATEGORY_AVG_PRICE,
            keys.THROUGHPUT,
            keys.THROUGHPUT_CLOCK,
        ]
        for category in Category:
            self._keys += [
                keys.category_tracked(category),
                keys.category_prices(category),
                keys.category_products(category),
            ]
        self._head: list[str | int] = [
            keys.DEDUP_PREFIX,
            keys.DEDUP_BUCKET_MS,
            options.dedup_ttl_seconds,
            options.price_history_cap,
            options.throughput_cap,
            len(Category),
            *(category.name for category in Category),  # Category numbers are 1..N in this order
        ]

    def apply(self, sales: Sequence[Sale]) -> Applied:
        """Apply a batch atomically; sales whose id was applied before are skipped and counted."""
        args = list(self._head)
        for sale in sales:
            args += (
                sale.id,
                sale.accepted_at_ms,
                int(sale.categoria),
                sale.producto_id,
                sale.price_cents,
                sale.cantidad_vendida,
            )
        applied, duplicates = self._script(keys=self._keys, args=args)
        return Applied(int(applied), int(duplicates))

    def tick(self) -> None:
        """Move the throughput clock when no sales arrive (keeps the live graph moving)."""
        self.apply(())

    def ping(self) -> bool:
        return bool(self._client.ping())
