"""Valkey's users on a real server (the local stack's, with the chart's users.acl): each may do its job and
nothing more. The reader (bf-report, Grafana, the helm tests) cannot write, FLUSHALL or CONFIG; the consumer
cannot CONFIG nor touch a key outside bf:*; a client without a login cannot write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import valkey
from valkey.exceptions import AuthenticationError, NoPermissionError

from bftools.runtime.ports import free_port
from bftools.stack.valkey import ValkeyServer
from blackfriday import keys
from blackfriday.consumer.store import PartitionBatch, Record, Store, StoreOptions
from blackfriday.report import read_figures
from blackfriday.sale import Category, Sale

pytestmark = pytest.mark.integration

Command = Callable[[valkey.Valkey], Any]


@pytest.fixture
def as_user(valkey_client: valkey.Valkey, valkey_server: ValkeyServer) -> Iterator[Callable[[str], valkey.Valkey]]:
    """Clients of the emptied Valkey logged in as one of its users."""
    opened: list[valkey.Valkey] = []

    def open_as(user: str) -> valkey.Valkey:
        opened.append(valkey_server.client(user=user))
        return opened[-1]

    yield open_as
    for client in opened:
        client.close()  # type: ignore[no-untyped-call]


def _sale(product: str = "Labial") -> Sale:
    return Sale(f"acl-{product}", 1_700_000_000_000, Category.Belleza, product, 1250, 2)


WRITES: dict[str, Command] = {
    "SET": lambda c: c.set(keys.SALES_TOTAL, 1_000_000),
    "HSET": lambda c: c.hset(keys.CATEGORY_SALES, "Belleza", "1000000"),
    "DEL": lambda c: c.delete(keys.PRICE_MAX),
    "EVAL": lambda c: c.eval("return redis.call('SET', KEYS[1], 1)", 1, keys.SALES_TOTAL),
}
ADMIN_ONLY: dict[str, Command] = {
    "FLUSHALL": lambda c: c.flushall(),
    "FLUSHDB": lambda c: c.flushdb(),
    "CONFIG GET": lambda c: c.config_get("requirepass"),
    "CONFIG SET": lambda c: c.config_set("maxmemory", "1"),
    "ACL LIST": lambda c: c.acl_list(),
    "KEYS": lambda c: c.keys("*"),
    "SCRIPT FLUSH": lambda c: c.script_flush(),
    "CLIENT KILL": lambda c: c.client_kill_filter(_type="normal"),
    "SHUTDOWN": lambda c: c.shutdown(nosave=True),
    "REPLICAOF": lambda c: c.replicaof("127.0.0.1", 1),
}


@pytest.mark.parametrize("command", list(WRITES) + list(ADMIN_ONLY))
def test_the_reader_cannot_write_flush_or_configure(
    command: str, as_user: Callable[[str], valkey.Valkey], valkey_client: valkey.Valkey
) -> None:
    Store(as_user("consumer"), StoreOptions(10, 60)).apply([PartitionBatch("t/0", 0, 0, [Record(0, _sale())])])
    before = valkey_client.dump(keys.SALES_TOTAL)
    with pytest.raises(NoPermissionError):
        {**WRITES, **ADMIN_ONLY}[command](as_user("reader"))
    assert valkey_client.dump(keys.SALES_TOTAL) == before
    assert cast(int, valkey_client.dbsize()) > 0


def test_the_reader_reads_the_figures_in_one_snapshot(as_user: Callable[[str], valkey.Valkey]) -> None:
    """What bf-report and Grafana do as the reader: GET, HGETALL, ZRANGE, XRANGE in a MULTI/EXEC."""
    Store(as_user("consumer"), StoreOptions(10, 60)).apply([PartitionBatch("t/0", 0, 0, [Record(0, _sale())])])
    reader = as_user("reader")
    assert reader.ping()
    figures = read_figures(reader, Category.Belleza)
    assert figures.total_sales == 1
    assert figures.prices == ["12.50"]


@pytest.mark.parametrize("command", list(ADMIN_ONLY))
def test_the_consumer_cannot_flush_or_configure(command: str, as_user: Callable[[str], valkey.Valkey]) -> None:
    with pytest.raises(NoPermissionError):
        ADMIN_ONLY[command](as_user("consumer"))


def test_the_consumer_writes_only_bf_keys(
    as_user: Callable[[str], valkey.Valkey], valkey_client: valkey.Valkey
) -> None:
    consumer = as_user("consumer")
    valkey_client.set("other:key", "kept")
    for touch in (
        lambda: consumer.set("other:key", "overwritten"),
        lambda: consumer.get("other:key"),
        lambda: consumer.delete("other:key"),
        lambda: consumer.eval("return redis.call('SET', KEYS[1], 1)", 1, "other:key"),
        lambda: consumer.eval("return redis.call('SET', 'other:key', 1)", 0),
    ):
        with pytest.raises(NoPermissionError):
            touch()
    assert valkey_client.get("other:key") == b"kept"


def test_the_consumer_runs_its_scripts_after_a_script_flush(
    as_user: Callable[[str], valkey.Valkey], valkey_client: valkey.Valkey
) -> None:
    """Its scripts are loaded again (SCRIPT LOAD, then EVALSHA) after a restart emptied the script cache."""
    store = Store(as_user("consumer"), StoreOptions(10, 60))
    store.apply([PartitionBatch("t/0", 0, 0, [Record(0, _sale("A"))])])
    valkey_client.script_flush()
    applied = store.apply([PartitionBatch("t/0", 1, 1, [Record(1, _sale("B"))])])
    assert applied.applied == 1
    assert store.forget_beyond({"t/0": 0}) == {"t/0": 1}
    assert valkey_client.get(keys.SALES_TOTAL) == b"2"


def test_the_monitor_reads_info_and_no_key(as_user: Callable[[str], valkey.Valkey]) -> None:
    """The probes' and bf-valkey-exporter's user."""
    monitor = as_user("monitor")
    assert monitor.ping()
    assert "used_memory" in cast(dict[str, Any], monitor.info())
    with pytest.raises(NoPermissionError):
        monitor.get(keys.SALES_TOTAL)
    with pytest.raises(NoPermissionError):
        monitor.set(keys.SALES_TOTAL, 1)


def test_a_client_without_a_login_cannot_read_or_write(
    valkey_server: ValkeyServer, valkey_client: valkey.Valkey
) -> None:
    port = valkey_server.port
    with valkey.Valkey(port=port, socket_timeout=5) as anonymous, pytest.raises(AuthenticationError):
        anonymous.set(keys.SALES_TOTAL, 1_000_000)  # the default user is off: NOAUTH
    with valkey.Valkey(port=port, password="guess", socket_timeout=5) as default, pytest.raises(AuthenticationError):
        default.get(keys.SALES_TOTAL)  # AUTH <password> is the default user's: refused
    reader = valkey_server.login("reader")
    wrong = valkey.Valkey(port=port, username="consumer", password=reader.password, socket_timeout=5)
    with wrong, pytest.raises(AuthenticationError):
        wrong.set(keys.SALES_TOTAL, 1)  # another user's password: WRONGPASS
    assert valkey_client.get(keys.SALES_TOTAL) is None


def test_what_the_consumer_applied_survives_a_restart(tmp_path: Path) -> None:
    """Valkey replays its append-only file as the default user: with the default user off and stripped of
    every permission, the scripts' transactions were dropped at load and a restarted Valkey came back empty
    (found by the reinstall test on the cluster). The default user stays off: no one logs in as it."""
    server = ValkeyServer(tmp_path, free_port())
    server.start(tmp_path / "valkey.log")
    try:
        with server.client(user="consumer") as consumer:
            Store(consumer, StoreOptions(10, 60)).apply(
                [PartitionBatch("t/0", 0, 1, [Record(0, _sale("A")), Record(1, _sale("B"))])]
            )
        with server.client(user="reader") as reader:
            before = read_figures(reader, Category.Belleza)
        assert before.total_sales == 2
        server.stop()
        server.start(tmp_path / "valkey.log")
        with server.client(user="reader") as reader:
            assert read_figures(reader, Category.Belleza) == before
        assert "NOPERM" not in (tmp_path / "valkey.log").read_text()
        with valkey.Valkey(host="127.0.0.1", port=server.port) as anonymous, pytest.raises(AuthenticationError):
            anonymous.get(keys.SALES_TOTAL)
    finally:
        server.stop()
