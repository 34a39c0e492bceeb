"""Partitions the Kafka client stopped fetching.

kafka-python 3.x has had bugs that leave one assigned partition unfetched for good while the others flow
(dpkp/kafka-python#3106 and #3131: a position waiting for an offset validation that never ends, a partition
left marked as being revoked). The fault matrix met one after a broker restart: a third of the sales stayed
in Kafka, uncounted, while the consumer looked healthy. Such a partition is assigned to this consumer while
its group is stable, it returned no record for ``stall_seconds`` of the loop's working time, and records
its log held at an earlier check are still unread (consumer/loop.py asks Kafka). Working time leaves out
what the loop spent waiting for Valkey, the dead-letter topic or Kafka, and turns that brought a full batch
(the client was busy handing out other partitions' records). The loop then replaces its Kafka client
(consumer/main.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Quiet:
    #: When the partition last returned records (or was assigned).
    since: float
    #: The loop's waiting total at that moment.
    waited: float


class StallWatch:
    """Which assigned partitions have returned no record for ``stall_seconds`` of working time."""

    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self._quiet: dict[Any, _Quiet] = {}
        self._waited = 0.0

    def waited(self, seconds: float) -> None:
        """The loop waited ``seconds`` without polling (Valkey or the dead-letter topic failing)."""
        self._waited += seconds

    def assigned(self, partitions: Iterable[Any], now: float) -> None:
        """The client's assignment now: a new partition's clock starts, a partition no longer held is dropped."""
        held = set(partitions)
        for tp in list(self._quiet):
            if tp not in held:
                del self._quiet[tp]
        for tp in held:
            self._quiet.setdefault(tp, _Quiet(now, self._waited))

    def fetched(self, partitions: Iterable[Any], now: float) -> None:
        """These partitions returned records (or were found to have none to return): their clock restarts."""
        for tp in partitions:
            self._quiet[tp] = _Quiet(now, self._waited)

    def restart(self, now: float) -> None:
        """Every partition's clock starts again (the group is rebalancing: nobody fetches meanwhile)."""
        self.fetched(list(self._quiet), now)

    def quiet(self, now: float) -> list[Any]:
        """The partitions that returned nothing for ``stall_seconds`` of working time: stalled, if their log
        holds records they have not read (the caller asks Kafka)."""
        return [
            tp for tp, q in self._quiet.items() if (now - q.since) - (self._waited - q.waited) >= self.stall_seconds
        ]
