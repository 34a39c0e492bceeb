"""The consumer's writes to Valkey: one Lua script call per batch (apply.lua).

A batch is a set of Kafka records, per partition: the sales among them are applied, and the partition's
applied offset moves to its last record, in the same atomic call. That offset is what makes every record
count exactly once (docs/valkey-keys.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import valkey

from blackfriday import keys
from blackfriday.sale import Category, Sale

_SCRIPT: Final = resources.files("blackfriday.consumer").joinpath("apply.lua").read_text()

#: Forget a partition's applied offset when its log ends at or below it (the topic was made again).
#: KEYS[1] the applied-offsets hash; ARGV: name, end offset, ...; returns name, forgotten offset, ...
_FORGET_BEYOND: Final = """
local forgotten = {}
for i = 1, #ARGV, 2 do
  local applied = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if applied >= tonumber(ARGV[i + 1]) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    table.insert(forgotten, ARGV[i])
    table.insert(forgotten, applied)
  end
end
return forgotten
"""


@dataclass(frozen=True, slots=True)
class StoreOptions:
    #: Entries kept in each category's tracked-product price history.
    price_history_cap: int
    #: Seconds kept in the throughput stream.
    throughput_cap: int


@dataclass(frozen=True, slots=True)
class Record:
    """A sale as Kafka delivered it: the offset it has in its partition."""

    offset: int
    sale: Sale


@dataclass(slots=True)
class PartitionBatch:
    """One partition's records of a poll: the offsets of its first and last record (sales and records that
    are not sales alike), its sales, and whether a gap before ``first`` is accepted (Kafka no longer has the
    records in between)."""

    name: str
    first: int
    last: int
    sales: list[Record] = field(default_factory=list)
    gap_accepted: bool = False


@dataclass(frozen=True, slots=True)
class Applied:
    applied: int
    #: Records at or below their partition's applied offset: delivered again, applied before.
    skipped: int
    #: Partition name -> its applied offset, for each partition whose batch starts after the record that
    #: follows it; with any, nothing was applied.
    gaps: Mapping[str, int] = field(default_factory=dict)


def partition_name(topic: str, partition: int) -> str:
    """The field of a partition in the applied-offsets hash."""
    return f"{topic}/{partition}"


class Store:
    def __init__(self, client: valkey.Valkey, options: StoreOptions) -> None:
        self._client = client
        self._script = client.register_script(_SCRIPT)
        self._forget = client.register_script(_FORGET_BEYOND)
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
            keys.APPLIED_OFFSETS,
        ]
        for category in Category:
            self._keys += [
                keys.category_tracked(category),
                keys.category_prices(category),
                keys.category_products(category),
            ]
        self._head: list[str | int] = [
            options.price_history_cap,
            options.throughput_cap,
            len(Category),
            *(category.name for category in Category),  # Category numbers are 1..N in this order
        ]

    def apply(self, batch: Sequence[PartitionBatch]) -> Applied:
        """Apply the batch atomically: the records above their partition's applied offset count, the others
        are skipped; with a gap in any partition, nothing is applied and the gaps are returned."""
        args: list[Any] = [*self._head, len(batch)]
        for part in batch:
            args += (part.name, part.first, part.last, int(part.gap_accepted))
        for index, part in enumerate(batch, start=1):
            for record in part.sales:
                sale = record.sale
                args += (
                    index,
                    record.offset,
                    sale.id,
                    int(sale.categoria),
                    sale.producto_id,
                    sale.price_cents,
                    sale.cantidad_vendida,
                )
        applied, skipped, gaps = self._script(keys=self._keys, args=args)
        return Applied(int(applied), int(skipped), _pairs(gaps))

    def tick(self) -> None:
        """Move the throughput clock when no sales arrive (keeps the live graph moving)."""
        self.apply(())

    def applied_offsets(self) -> dict[str, int]:
        """Partition name -> its applied offset."""
        raw: dict[bytes, bytes] = self._client.hgetall(keys.APPLIED_OFFSETS)  # type: ignore[assignment]
        return {name.decode(): int(offset) for name, offset in raw.items()}

    def forget_beyond(self, ends: Mapping[str, int]) -> dict[str, int]:
        """Forget the applied offset of each partition whose log now ends at or below it (the topic was
        deleted and made again: its records are new); returns the forgotten ones."""
        if not ends:
            return {}
        args = [value for name, end in ends.items() for value in (name, end)]
        return _pairs(self._forget(keys=[keys.APPLIED_OFFSETS], args=args))

    def ping(self) -> bool:
        return bool(self._client.ping())


def _pairs(flat: Sequence[Any]) -> dict[str, int]:
    return {
        (name.decode() if isinstance(name, bytes) else str(name)): int(value)
        for name, value in zip(flat[::2], flat[1::2], strict=True)
    }
