"""A repair of kafka-python's idempotent producer (3.0.x), and a check of the state it repairs.

The bug: when batches already sent to a broker expire in the producer (the broker died with requests in
flight and stayed away longer than delivery_timeout_ms), the sender calls
``TransactionManager.reset_producer_id()``. That drops the producer id and epoch to -1 but leaves the
manager in READY, while the sender only asks the broker for a new producer id from UNINITIALIZED
(``init_producer_id`` returns at once otherwise). From then on ``Sender.run_once`` finds no producer id,
queues no InitProducerId request, and returns before sending anything, forever: every send times out, no
batch even expires, and the connection itself looks healthy. A writer that lost its broker under load
never acknowledged a sale again until restarted; with nothing in flight at the kill it recovered.

The repair does what Kafka's Java client does (KAFKA-7737): an idempotent producer whose id was reset goes
back to UNINITIALIZED, so the sender requests a new producer id as soon as a broker answers. It never drops
an acknowledged record and never sends one twice: batches already stamped with the old producer id keep it
and their sequence numbers (the broker deduplicates them); only a new producer id starts new sequences.
Reproduced and verified 10 times out of 10 each way (SIGKILL of the broker under load, restart ~13 s later):
without it no ack in 15 s, with it the first ack 0.2-1.2 s after the broker is back.

kafka-python's master (3.1.0.dev) still has the bug; tests/unit/test_kafka_repair.py fails when an upgrade
changes the internals this relies on.
"""

from __future__ import annotations

from typing import Any, Final

from kafka.producer.kafka import KafkaProducer
from kafka.producer.transaction_manager import TransactionManager, TransactionState

#: States in which a healthy idempotent producer may have no producer id (it is getting one).
_GETTING_AN_ID: Final = (
    TransactionState.UNINITIALIZED,
    TransactionState.INITIALIZING,
    TransactionState.BUMPING_PRODUCER_EPOCH,
)


def install() -> None:
    """Make ``reset_producer_id`` return an idempotent producer to UNINITIALIZED (idempotent, process-wide)."""
    original = TransactionManager.reset_producer_id
    if getattr(original, "_bf_repaired", False):
        return

    def reset_producer_id(self: Any) -> None:
        with self._lock:  # a Condition over an RLock: re-entered by the original
            original(self)
            if not self.is_transactional() and self._current_state == TransactionState.READY:
                self._current_state = TransactionState.UNINITIALIZED
                self._last_error = None

    reset_producer_id._bf_repaired = True  # type: ignore[attr-defined]
    TransactionManager.reset_producer_id = reset_producer_id


def stuck(producer: KafkaProducer) -> bool:
    """True when the producer can never send again: its I/O thread died, or it has no producer id and is
    not getting one (the state ``install`` repairs). Reads a few attributes; no I/O."""
    sender = producer._sender
    if sender is None or not sender.is_alive():
        return True
    manager = producer._transaction_manager
    if manager is None or manager.is_transactional():
        return False
    return not manager.has_producer_id() and manager._current_state not in _GETTING_AN_ID
