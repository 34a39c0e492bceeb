"""The consumer's Lua script on a real Valkey server: atomic, idempotent per sale id, bounded."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import cast

import pytest
import valkey

from bftools.stack.valkey import ValkeyServer
from blackfriday import keys
from blackfriday.consumer.store import Store, StoreOptions
from blackfriday.report import build_report, read_figures
from blackfriday.sale import Category, Sale
from tests.conftest import ROOT
from tests.model import Line, expected_report

pytestmark = pytest.mark.integration

OPTIONS = StoreOptions(dedup_ttl_seconds=3600, price_history_cap=5, throughput_cap=60)
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


def line(sale: Sale) -> Line:
    return Line(sale.categoria.name, sale.producto_id, sale.price_cents, sale.cantidad_vendida)


def report(client: valkey.Valkey) -> dict[str, object]:
    return build_report(read_figures(client, Category.Belleza))


def focus_expectation(batch: list[Sale]) -> tuple[str | None, list[int]]:
    focus = [s for s in batch if s.categoria is Category.Belleza]
    tracked = focus[0].producto_id if focus else None
    return tracked, [s.price_cents for s in focus if s.producto_id == tracked]


def test_a_batch_gives_the_models_figures_and_a_replay_changes_nothing(valkey_client: valkey.Valkey) -> None:
    store = Store(valkey_client, OPTIONS)
    batch = sales(300, seed=1)
    assert store.apply(batch).applied == 300
    tracked, prices = focus_expectation(batch)
    expected = expected_report([line(s) for s in batch], "Belleza", tracked, prices, cap=5)
    assert report(valkey_client) == expected
    again = store.apply(batch[100:] + batch[:100])
    assert (again.applied, again.duplicates) == (0, 300)
    assert report(valkey_client) == expected


def test_concurrent_appliers_with_overlapping_batches_stay_exact(
    valkey_client: valkey.Valkey, valkey_server: ValkeyServer
) -> None:
    batch = sales(2000, seed=2)
    chunks = [batch[i : i + 50] for i in range(0, len(batch), 50)]
    errors: list[BaseException] = []

    def worker(order: list[list[Sale]]) -> None:
        store = Store(valkey_server.client(), OPTIONS)
        try:
            for chunk in order:
                store.apply(chunk)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(chunks[::step],)) for step in (1, 1, -1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    figures = report(valkey_client)
    assert figures["total_sales"] == 2000
    expected = expected_report([line(s) for s in batch], "Belleza", None, [])
    assert {k: v for k, v in figures.items() if k != "focus"} == {k: v for k, v in expected.items() if k != "focus"}


def test_price_history_is_capped_and_keeps_the_latest(valkey_client: valkey.Valkey) -> None:
    store = Store(valkey_client, OPTIONS)
    batch = [Sale(f"p-{i}", NOW_MS, Category.Belleza, "labial", 100 + i, 1) for i in range(12)]
    store.apply(batch[:7])
    store.apply(batch[7:])
    assert valkey_client.xlen(keys.category_prices(Category.Belleza)) == 5
    assert report(valkey_client)["focus"] == {
        "category": "Belleza",
        "tracked_product": "labial",
        "prices": [1.07, 1.08, 1.09, 1.10, 1.11],
    }


def test_dedup_sets_expire_after_their_hour_plus_the_ttl(valkey_client: valkey.Valkey) -> None:
    store = Store(valkey_client, OPTIONS)
    store.apply(sales(3, seed=3))
    bucket = keys.dedup_bucket(NOW_MS)
    assert valkey_client.scard(bucket) == 3
    expires_at = valkey_client.expiretime(bucket)
    hour_end = (NOW_MS // keys.DEDUP_BUCKET_MS + 1) * keys.DEDUP_BUCKET_MS // 1000
    assert expires_at == hour_end + OPTIONS.dedup_ttl_seconds


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
            store.apply(batch)
        else:
            store.tick()
        if valkey_second(client) == now:
            return now
    raise AssertionError("could not run the script within one second of Valkey's clock")


@pytest.fixture
def store(valkey_client: valkey.Valkey) -> Store:
    return Store(valkey_client, OPTIONS)


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
    store.apply([Sale("c-1", NOW_MS, Category.Hogar, "a", 29, 1)])
    store.apply([Sale("c-2", NOW_MS, Category.Hogar, "a", 30, 1), Sale("c-3", NOW_MS, Category.Hogar, "a", 28, 1)])
    store.apply([Sale("c-4", NOW_MS, Category.Hogar, "a", 29, 1)])
    assert valkey_client.get(keys.PRICE_MAX) == b"0.30"
    assert valkey_client.get(keys.PRICE_MIN) == b"0.28"


def test_the_script_refuses_keys_that_do_not_match_the_categories(valkey_client: valkey.Valkey, store: Store) -> None:
    script = valkey_client.register_script((ROOT / "apps" / "blackfriday" / "consumer" / "apply.lua").read_text())
    with pytest.raises(valkey.ResponseError, match="expected 23 keys for 4 categories, got 11"):
        script(keys=["k"] * 11, args=["p", 3_600_000, 60, 5, 60, 4, "a", "b", "c", "d"])
