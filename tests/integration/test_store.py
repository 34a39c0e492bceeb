"""The consumer's Lua script on a real Valkey server: atomic, each record once by its offset, bounded."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import cast

import pytest
import valkey

from bftools.stack.valkey import ValkeyServer
from blackfriday import keys
from blackfriday.consumer.store import PartitionBatch, Record, Store, StoreOptions
from blackfriday.report import build_report, read_figures
from blackfriday.sale import Category, Sale
from tests.conftest import ROOT
from tests.model import Line, expected_report

pytestmark = pytest.mark.integration

OPTIONS = StoreOptions(price_history_cap=5, throughput_cap=60)
NOW_MS = 1_800_000_000_000


def sales(count: int, seed: int) -> list[Sale]:
    rng = random.Random(seed)
    return [
        Sale(
            id=f"{seed}-{i}",
            accepted_at_ms=NOW_MS + i,
            categoria=rng.choice(list(Category)),
            producto_id=rng.choice(["a", "b", "C", "d"]),
            price_cents=rng.randint(1, 500_000),
            cantidad_vendida=rng.randint(1, 9),
        )
        for i in range(count)
    ]


def records(batch: list[Sale], partition: int = 0, first: int = 0) -> list[PartitionBatch]:
    """The sales as one partition's records, at offsets from ``first`` on."""
    if not batch:
        return []
    entries = [Record(first + i, sale) for i, sale in enumerate(batch)]
    return [PartitionBatch(f"sales-topic/{partition}", first, first + len(batch) - 1, entries)]


def line(sale: Sale) -> Line:
    return Line(sale.categoria.name, sale.producto_id, sale.price_cents, sale.cantidad_vendida)


def report(client: valkey.Valkey) -> dict[str, object]:
    return build_report(read_figures(client, Category.Belleza))


def focus_expectation(batch: list[Sale]) -> tuple[str | None, list[int]]:
    focus = [s for s in batch if s.categoria is Category.Belleza]
    tracked = focus[0].producto_id if focus else None
    return tracked, [s.price_cents for s in focus if s.producto_id == tracked]


def test_a_batch_gives_the_models_figures_and_a_redelivery_changes_nothing(
    consumer_client: valkey.Valkey, valkey_client: valkey.Valkey
) -> None:
    store = Store(consumer_client, OPTIONS)
    batch = sales(300, seed=1)
    assert store.apply(records(batch)).applied == 300
    tracked, prices = focus_expectation(batch)
    expected = expected_report([line(s) for s in batch], "Belleza", tracked, prices, cap=5)
    assert report(valkey_client) == expected
    again = store.apply(records(batch))  # Kafka delivers the whole batch again
    assert (again.applied, again.skipped, dict(again.gaps)) == (0, 300, {})
    partly = store.apply(records(batch[200:] + sales(10, seed=11), first=200))  # a batch overlapping the last
    assert (partly.applied, partly.skipped) == (10, 100)
    assert store.applied_offsets() == {"sales-topic/0": 309}


def test_concurrent_appliers_with_overlapping_batches_stay_exact(
    valkey_client: valkey.Valkey, valkey_server: ValkeyServer
) -> None:
    """Three appliers (a consumer and two zombies of a rebalance) each apply every chunk of four partitions,
    in order within a partition but in different orders across them: each record counts once."""
    batch = sales(2000, seed=2)
    chunks = [
        records(batch[i : i + 50], partition=p, first=i - p * 500)
        for p in range(4)
        for i in range(p * 500, (p + 1) * 500, 50)
    ]
    by_partition = [chunks[p * 10 : (p + 1) * 10] for p in range(4)]
    orders = [
        [chunk for group in zip(*by_partition, strict=True) for chunk in group],
        [chunk for group in zip(*reversed(by_partition), strict=True) for chunk in group],
        [chunk for part in by_partition for chunk in part],
    ]
    errors: list[BaseException] = []

    def worker(order: list[list[PartitionBatch]]) -> None:
        store = Store(valkey_server.client(user="consumer"), OPTIONS)
        try:
            for chunk in order:
                assert not store.apply(chunk).gaps
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    figures = report(valkey_client)
    assert figures["total_sales"] == 2000
    expected = expected_report([line(s) for s in batch], "Belleza", None, [])
    assert {k: v for k, v in figures.items() if k != "focus"} == {k: v for k, v in expected.items() if k != "focus"}


def test_price_history_is_capped_and_keeps_the_latest(
    consumer_client: valkey.Valkey, valkey_client: valkey.Valkey
) -> None:
    store = Store(consumer_client, OPTIONS)
    batch = [Sale(f"p-{i}", NOW_MS, Category.Belleza, "labial", 100 + i, 1) for i in range(12)]
    store.apply(records(batch[:7]))
    store.apply(records(batch[7:], first=7))
    assert valkey_client.xlen(keys.category_prices(Category.Belleza)) == 5
    assert report(valkey_client)["focus"] == {
        "category": "Belleza",
        "tracked_product": "labial",
        "prices": [1.07, 1.08, 1.09, 1.10, 1.11],
    }


def test_a_batch_after_a_gap_applies_nothing_and_names_the_gap(
    consumer_client: valkey.Valkey, valkey_client: valkey.Valkey
) -> None:
    """The store lacks records before the batch (its primary was lost before its replica had them)."""
    store = Store(consumer_client, OPTIONS)
    store.apply(records(sales(5, seed=3)) + records(sales(5, seed=4), partition=1))
    result = store.apply(records(sales(3, seed=5), first=9) + records(sales(3, seed=6), partition=1, first=5))
    assert (result.applied, dict(result.gaps)) == (0, {"sales-topic/0": 4})
    assert report(valkey_client)["total_sales"] == 10  # partition 1's records were not applied either
    late = records(sales(3, seed=5), first=9)
    late[0].gap_accepted = True  # Kafka no longer has offsets 5-8
    assert store.apply(late).applied == 3
    assert store.applied_offsets() == {"sales-topic/0": 11, "sales-topic/1": 4}


def test_records_that_are_not_sales_move_the_applied_offset(
    consumer_client: valkey.Valkey, valkey_client: valkey.Valkey
) -> None:
    store = Store(consumer_client, OPTIONS)
    batch = records(sales(2, seed=7))
    batch[0].last = 5  # offsets 2-5 were not sales (kept on the dead-letter topic)
    store.apply(batch)
    assert store.applied_offsets() == {"sales-topic/0": 5}
    assert not store.apply(records(sales(1, seed=8), first=6)).gaps


def test_an_applied_offset_beyond_the_log_end_is_forgotten(
    consumer_client: valkey.Valkey, valkey_client: valkey.Valkey
) -> None:
    store = Store(consumer_client, OPTIONS)
    store.apply(records(sales(10, seed=9)) + records(sales(3, seed=10), partition=1))
    assert store.forget_beyond({"sales-topic/0": 10, "sales-topic/1": 2}) == {"sales-topic/1": 2}
    assert store.applied_offsets() == {"sales-topic/0": 9}


def test_the_store_does_not_grow_with_the_number_of_sales(
    consumer_client: valkey.Valkey, valkey_client: valkey.Valkey
) -> None:
    """Exactly once costs one hash field per partition, not an entry per sale: the memory of the store's
    keys after 30,000 sales is within a few KiB of their memory after 3,000 (same products, capped streams).
    The keys' own memory (MEMORY USAGE, every element counted), not the server's used_memory: that also
    holds client buffers and allocator overheads, which moved by up to 80 KiB between runs of this test."""
    store = Store(consumer_client, OPTIONS)

    def fill(count: int, first: int) -> None:
        for start in range(first, first + count, 1000):
            store.apply(records(sales(1000, seed=start), partition=start % 4, first=start))

    def key_names() -> set[str]:
        return {key.decode() for key in valkey_client.scan_iter("bf:*")} - {keys.THROUGHPUT}

    fill(3000, 0)
    warm = int(cast(int, valkey_client.memory_usage(keys.APPLIED_OFFSETS)))
    names = key_names()
    used = stored(valkey_client, names)
    fill(27_000, 3000)
    assert report(valkey_client)["total_sales"] == 30_000
    assert key_names() == names  # no key per sale, per hour or per batch
    assert int(cast(int, valkey_client.memory_usage(keys.APPLIED_OFFSETS))) <= warm + 64
    grown = stored(valkey_client, names) - used
    assert grown < 64 * 1024, grown  # the sets of sale ids it replaces grew 65 bytes a sale: 1.7 MiB here


def stored(client: valkey.Valkey, names: set[str]) -> int:
    """The bytes the keys take (MEMORY USAGE with SAMPLES 0: every element of each counted)."""
    return sum(int(cast(int, client.memory_usage(name, samples=0))) for name in names)


def valkey_second(client: valkey.Valkey) -> int:
    return int(cast(tuple[int, int], client.time())[0])


def clock(client: valkey.Valkey) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in cast(dict[bytes, bytes], client.hgetall(keys.THROUGHPUT_CLOCK)).items()}


def points(client: valkey.Valkey) -> list[tuple[int, int]]:
    """(second, sales) of every throughput entry."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(keys.THROUGHPUT))
    return [(int(ident.decode().split("-")[0]) // 1000, int(fields[b"sales"])) for ident, fields in entries]


def tick_at(client: valkey.Valkey, store: Store, state: Callable[[int], dict[str, int]], batch: list[Sale]) -> int:
    """Set the clock to ``state(now)`` and apply ``batch`` within one second of Valkey's clock; that second.

    The script reads Valkey's own clock, so a run that straddles a second is retried: each branch of the
    clock is tested with the exact second it ran in.
    """
    for _ in range(20):
        client.flushdb()
        now = valkey_second(client)
        mapping = state(now)
        if mapping:
            client.hset(keys.THROUGHPUT_CLOCK, mapping=mapping)
        if batch:
            store.apply(records(batch))
        else:
            store.tick()
        if valkey_second(client) == now:
            return now
    raise AssertionError("could not run the script within one second of Valkey's clock")


@pytest.fixture
def store(consumer_client: valkey.Valkey) -> Store:
    return Store(consumer_client, OPTIONS)


def test_clock_first_call_opens_the_current_second(valkey_client: valkey.Valkey, store: Store) -> None:
    now = tick_at(valkey_client, store, lambda now: {}, sales(3, seed=5))
    assert clock(valkey_client) == {"second": now, "sales": 3, "owes_zero": 0}
    assert points(valkey_client) == []


def test_clock_same_second_counts_into_it(valkey_client: valkey.Valkey, store: Store) -> None:
    now = tick_at(valkey_client, store, lambda now: {"second": now, "sales": 7, "owes_zero": 0}, sales(4, seed=6))
    assert clock(valkey_client) == {"second": now, "sales": 11, "owes_zero": 0}
    assert points(valkey_client) == []


def test_clock_idle_tick_in_the_same_second_changes_nothing(valkey_client: valkey.Valkey, store: Store) -> None:
    now = tick_at(valkey_client, store, lambda now: {"second": now, "sales": 7, "owes_zero": 1}, [])
    assert clock(valkey_client) == {"second": now, "sales": 7, "owes_zero": 1}
    assert points(valkey_client) == []


def test_clock_a_second_behind_valkeys_clock_counts_into_the_open_one(
    valkey_client: valkey.Valkey, store: Store
) -> None:
    now = tick_at(valkey_client, store, lambda now: {"second": now + 5, "sales": 2, "owes_zero": 0}, sales(1, seed=7))
    assert clock(valkey_client) == {"second": now + 5, "sales": 3, "owes_zero": 0}


def test_clock_busy_second_just_over_is_written_and_owes_a_zero(valkey_client: valkey.Valkey, store: Store) -> None:
    now = tick_at(valkey_client, store, lambda now: {"second": now - 1, "sales": 42, "owes_zero": 0}, [])
    assert points(valkey_client) == [(now - 1, 42)]
    assert clock(valkey_client) == {"second": now, "sales": 0, "owes_zero": 1}


def test_clock_busy_second_long_over_is_written_with_the_zero_after_it(
    valkey_client: valkey.Valkey, store: Store
) -> None:
    now = tick_at(valkey_client, store, lambda now: {"second": now - 3, "sales": 42, "owes_zero": 0}, sales(5, seed=8))
    assert points(valkey_client) == [(now - 3, 42), (now - 2, 0)]
    assert clock(valkey_client) == {"second": now, "sales": 5, "owes_zero": 0}


def test_clock_idle_second_that_owes_a_zero_writes_it(valkey_client: valkey.Valkey, store: Store) -> None:
    now = tick_at(valkey_client, store, lambda now: {"second": now - 2, "sales": 0, "owes_zero": 1}, [])
    assert points(valkey_client) == [(now - 2, 0)]
    assert clock(valkey_client) == {"second": now, "sales": 0, "owes_zero": 0}


def test_clock_idle_second_that_owes_nothing_writes_nothing(valkey_client: valkey.Valkey, store: Store) -> None:
    now = tick_at(valkey_client, store, lambda now: {"second": now - 4, "sales": 0, "owes_zero": 0}, [])
    assert points(valkey_client) == []
    assert clock(valkey_client) == {"second": now, "sales": 0, "owes_zero": 0}


def test_clock_a_point_the_stream_refuses_does_not_fail_the_batch(valkey_client: valkey.Valkey, store: Store) -> None:
    """After Valkey's clock stepped back, the stream's last id can be ahead of the second to write."""

    def ahead(now: int) -> dict[str, int]:
        valkey_client.xadd(keys.THROUGHPUT, {"sales": 9}, id=f"{(now + 60) * 1000}-0")
        return {"second": now - 1, "sales": 42, "owes_zero": 0}

    now = tick_at(valkey_client, store, ahead, sales(2, seed=9))
    assert points(valkey_client) == [(now + 60, 9)]
    assert report(valkey_client)["total_sales"] == 2


def test_max_and_min_prices_compare_in_whole_cents(valkey_client: valkey.Valkey, store: Store) -> None:
    """0.29 and 0.3 differ by one cent: a float round-trip of "0.29" (28.999...) must not blur them."""
    store.apply(records([Sale("c-1", NOW_MS, Category.Hogar, "a", 29, 1)]))
    store.apply(
        records(
            [Sale("c-2", NOW_MS, Category.Hogar, "a", 30, 1), Sale("c-3", NOW_MS, Category.Hogar, "a", 28, 1)], 0, 1
        )
    )
    store.apply(records([Sale("c-4", NOW_MS, Category.Hogar, "a", 29, 1)], first=3))
    assert valkey_client.get(keys.PRICE_MAX) == b"0.30"
    assert valkey_client.get(keys.PRICE_MIN) == b"0.28"


def test_the_script_refuses_keys_that_do_not_match_the_categories(valkey_client: valkey.Valkey, store: Store) -> None:
    script = valkey_client.register_script((ROOT / "apps" / "blackfriday" / "consumer" / "apply.lua").read_text())
    with pytest.raises(valkey.ResponseError, match="expected 24 keys for 4 categories, got 11"):
        script(keys=["k"] * 11, args=[5, 60, 4, "a", "b", "c", "d", 0])
