"""The consumer's Lua script on a real Valkey server: atomic, idempotent per sale id, bounded."""

from __future__ import annotations

import random
import threading
from typing import cast

import pytest
import valkey

from blackfriday import keys
from blackfriday.consumer.store import Store, StoreOptions
from blackfriday.report import build_report, read_figures
from blackfriday.sale import Category, Sale
from devstack.valkey import ValkeyServer
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


def test_throughput_stream_gets_one_entry_per_second_then_falls_to_zero(valkey_client: valkey.Valkey) -> None:
    store = Store(valkey_client, OPTIONS)
    now = int(cast(tuple[int, int], valkey_client.time())[0])
    # Pretend the current second began earlier: a busy second that is now over.
    valkey_client.hset(keys.THROUGHPUT_CURRENT, mapping={"sec": now - 3, "count": 42, "nz": 0})
    store.tick()
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], valkey_client.xrange(keys.THROUGHPUT))
    assert [(e[0].decode(), e[1][b"sales"]) for e in entries] == [
        (f"{(now - 3) * 1000}-0", b"42"),
        (f"{(now - 2) * 1000}-0", b"0"),
    ]
    store.apply(sales(5, seed=4))
    assert int(cast(bytes, valkey_client.hget(keys.THROUGHPUT_CURRENT, "count"))) >= 5
