"""The chart's Valkey nodes and Sentinels (their own start scripts) on real servers: a failover under load
loses no sale and counts none twice; a primary that comes back empty never wipes a replica holding the data."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import valkey
from valkey.exceptions import AuthenticationError, NoPermissionError

from bftools.runtime.process import wait_for
from bftools.stack.services import Pipeline
from blackfriday.valkeyconn import connect_as
from tests.integration.conftest import PARTITIONS
from tests.integration.helpers import (
    Outcome,
    assert_each_stored_sale_counted_once,
    known_sales,
    post_sales,
    report_now,
    until,
)
from tests.integration.valkey_nodes import ValkeyNodes

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("valkey-ha")]


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[ValkeyNodes]:
    nodes = ValkeyNodes(tmp_path / "valkey", count=3, sentinel=True)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[ValkeyNodes]:
    """A primary and a replica without Sentinel (values/dev.yaml's Valkey)."""
    nodes = ValkeyNodes(tmp_path / "valkey", count=2, sentinel=False)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


def _fill(nodes: ValkeyNodes, keys: int) -> None:
    with nodes.primary().client() as client:
        client.mset({f"bf:k{i}": i for i in range(keys)})
    until(lambda: all(n.keys() == keys for n in nodes.nodes), 20, "the replicas to have every key")


def test_an_empty_primary_copies_its_replica_instead_of_wiping_it(pair: ValkeyNodes) -> None:
    _fill(pair, 500)
    pair.kill(0)
    pair.wipe(0)  # node 0's volume lost: it comes back with nothing
    pair.start_node(0)
    until(lambda: pair.nodes[0].role() == "master" and pair.nodes[0].keys() == 500, 60, "node 0 to serve the data")
    until(lambda: pair.nodes[1].role() == "slave", 20, "node 1 to follow node 0 again")
    assert pair.nodes[1].keys() == 500  # never wiped
    with pair.nodes[0].client() as client:
        client.set("bf:after", 1)  # and node 0 takes writes again, which the replica gets
    until(lambda: pair.nodes[1].keys() == 501, 20, "the replica to follow")
    # What it copied is on its own disk now: a restart keeps it.
    pair.kill(0)
    pair.start_node(0)
    until(lambda: pair.nodes[0].keys() == 501, 30, "node 0 to reload its data")


def test_an_empty_primary_the_sentinels_still_name_hands_over_instead_of_wiping(sentinels: ValkeyNodes) -> None:
    _fill(sentinels, 300)
    assert sentinels.primary().index == 0
    sentinels.kill(0)
    sentinels.wipe(0)
    sentinels.start_node(0)  # back before the Sentinels noticed: they still name it
    until(lambda: sentinels.nodes[0].role() == "slave", 90, "node 0 to follow the primary the Sentinels chose")
    primary = sentinels.primary()
    assert primary.index != 0
    until(lambda: all(n.keys() == 300 for n in sentinels.nodes), 30, "every node to hold the data")


def test_a_primary_asked_to_stop_hands_over_to_a_replica_first(sentinels: ValkeyNodes) -> None:
    """The pod's preStop (deleted, rolled out): writes move to a new primary before this one stops."""
    _fill(sentinels, 100)
    old = sentinels.primary()
    started = time.monotonic()
    done = sentinels.prestop(old.index)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 15
    assert old.role() == "slave"
    new = sentinels.primary()
    assert new.index != old.index
    assert all(sentinels.sentinel_primary(i) == new.port for i in range(3))
    with new.client() as client:
        client.set("bf:after", 1)
    for node in sentinels.nodes:  # a replica's preStop has nothing to hand over
        if node.index != new.index:
            assert sentinels.prestop(node.index).returncode == 0
    assert sentinels.primary().index == new.index


def test_sentinels_fail_over_under_load_and_the_pipeline_counts_every_sale_once(
    sentinels: ValkeyNodes, pipeline: Pipeline
) -> None:
    """The consumer finds the primary through the Sentinels. Its primary killed while sales flow: a replica
    is promoted, the aggregates move again within 15 s, the old primary comes back as a replica, and every
    sale is counted once (what the lost primary had not passed on is read again from Kafka)."""
    pipeline.valkey_addr = sentinels.sentinel_addr
    pipeline.valkey_users = sentinels.logins()
    pipeline.start_all()
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def post() -> None:
        batch = 0
        while not stop.is_set():
            outcomes.extend(post_sales(pipeline.api_url, known_sales(20, seed=batch), concurrency=4))
            batch += 1

    def counted() -> int:
        """Sales counted in Valkey, as the dashboard reads them through the Sentinels (-1: no answer now)."""
        try:
            return int(report_now(pipeline)["total_sales"])
        except valkey.ValkeyError:
            return -1

    poster = threading.Thread(target=post, daemon=True)
    poster.start()
    try:
        until(lambda: counted() > 200, 60, "sales to flow")
        old = sentinels.primary().index
        counted_then = counted()
        sentinels.kill(old)
        killed_at = time.monotonic()
        until(
            lambda: sentinels.sentinel_primary((old + 1) % 3) not in (None, sentinels.nodes[old].port),
            30,
            "the Sentinels to promote a replica",
        )
        # The figures move again: the new primary counts sales beyond what the old one had.
        assert wait_for(lambda: counted() > counted_then, 15, 0.2)
        recovered = time.monotonic() - killed_at
        sentinels.start_node(old)
        until(lambda: sentinels.nodes[old].role() == "slave", 60, "the old primary to follow the new one")
    finally:
        stop.set()
        poster.join(60)
    assert all(o.stored for o in outcomes), [o for o in outcomes if not o.stored][:3]  # ingest untouched
    with connect_as(pipeline.valkey_addr, pipeline.valkey_login("admin")) as client:
        assert_each_stored_sale_counted_once(client, pipeline, outcomes, PARTITIONS)
    assert recovered < 15


def test_the_sentinels_tell_each_user_only_where_the_primary_is(sentinels: ValkeyNodes) -> None:
    """Clients log in to the Sentinels with their own login (sentinel-users.acl): they find the primary, and
    then log in to it as the same user, with that user's rights there; none may steer the Sentinels, and a
    client without a login gets nothing."""
    logins = sentinels.logins()
    with connect_as(sentinels.sentinel_addr, logins["consumer"]) as consumer:
        consumer.set("bf:sales:total", 7)
        with pytest.raises(NoPermissionError):
            consumer.flushall()
    with connect_as(sentinels.sentinel_addr, logins["reader"]) as reader:
        assert reader.get("bf:sales:total") == b"7"
        with pytest.raises(NoPermissionError):
            reader.set("bf:sales:total", 8)
    port = sentinels.nodes[0].sentinel_port
    reader_login = logins["reader"]
    with valkey.Valkey(port=port, username=reader_login.user, password=reader_login.password) as reader:
        for steer in (("FAILOVER", "bf"), ("SET", "bf", "quorum", "1"), ("RESET", "*"), ("REMOVE", "bf")):
            with pytest.raises(NoPermissionError):
                reader.execute_command("SENTINEL", *steer)
    with valkey.Valkey(port=port, socket_timeout=5) as anonymous, pytest.raises(AuthenticationError):
        anonymous.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "bf")
    assert sentinels.primary().index == 0  # nobody moved it
