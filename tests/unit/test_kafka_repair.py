"""The repair of kafka-python's idempotent producer (writer/kafka_repair.py) and its stuck check.

These tests fail when a kafka-python upgrade changes the internals the repair relies on; the recovery
itself is proved against a real broker (tests/integration/test_writer_heals.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kafka.producer.transaction_manager import (
    ProducerIdAndEpoch,
    TransactionManager,
    TransactionState,
)

from blackfriday.writer import kafka_repair


@pytest.fixture
def repaired() -> Iterator[None]:
    original = TransactionManager.reset_producer_id
    kafka_repair.install()
    yield
    TransactionManager.reset_producer_id = original


def ready_manager() -> TransactionManager:
    """An idempotent (not transactional) manager that holds a producer id, as after InitProducerId."""
    manager = TransactionManager()
    manager._current_state = TransactionState.READY
    manager.set_producer_id_and_epoch(ProducerIdAndEpoch(42, 0))
    return manager


def test_without_the_repair_a_reset_leaves_the_producer_unable_to_get_an_id() -> None:
    """The bug, as the library has it: no id, and a state from which the sender never asks for one."""
    manager = ready_manager()
    manager.reset_producer_id()
    assert not manager.has_producer_id()
    assert manager._current_state == TransactionState.READY
    manager.init_producer_id()  # what Sender.run_once calls: a no-op outside UNINITIALIZED
    assert manager._current_state == TransactionState.READY


def test_with_the_repair_a_reset_producer_asks_for_a_new_id(repaired: None) -> None:
    manager = ready_manager()
    manager.reset_producer_id()
    assert not manager.has_producer_id()
    assert manager._current_state == TransactionState.UNINITIALIZED
    manager.init_producer_id()
    assert manager._current_state == TransactionState.INITIALIZING


def test_install_is_idempotent(repaired: None) -> None:
    patched = TransactionManager.reset_producer_id
    kafka_repair.install()
    assert TransactionManager.reset_producer_id is patched


class FakeSender:
    def __init__(self, alive: bool) -> None:
        self._alive = alive

    def is_alive(self) -> bool:
        return self._alive


class FakeProducer:
    def __init__(self, manager: TransactionManager | None, alive: bool = True) -> None:
        self._sender = FakeSender(alive)
        self._transaction_manager = manager


def stuck(producer: Any) -> bool:
    return kafka_repair.stuck(producer)


def test_stuck_is_no_id_while_not_getting_one_or_a_dead_io_thread() -> None:
    assert not stuck(FakeProducer(ready_manager()))
    fresh = TransactionManager()  # UNINITIALIZED: getting an id is normal
    assert not stuck(FakeProducer(fresh))
    broken = ready_manager()
    broken.reset_producer_id()  # the library's reset, unrepaired here
    assert stuck(FakeProducer(broken))
    assert stuck(FakeProducer(ready_manager(), alive=False))
    assert not stuck(FakeProducer(None))  # idempotence off: no producer id to lose


def test_the_producer_internals_the_repair_reads_exist() -> None:
    from kafka.producer.kafka import KafkaProducer

    source = KafkaProducer.__init__.__code__.co_names
    assert "_sender" in source
    assert "_transaction_manager" in source
