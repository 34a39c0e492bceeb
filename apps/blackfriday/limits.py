"""A count held under a limit (open connections, sales in flight), with its metrics.

Used from the event loop's thread only: no lock.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Limit:
    def __init__(self, limit: int, registry: CollectorRegistry, name: str, what: str, refused: str) -> None:
        self.limit = limit
        self.count = 0
        self._gauge = Gauge(name, what, registry=registry)
        self._refused = Counter(f"{name}_refused", refused, registry=registry)

    def enter(self) -> bool:
        """Count one more, or refuse it (False) at the limit."""
        if self.count >= self.limit:
            self._refused.inc()
            return False
        self.count += 1
        self._gauge.set(self.count)
        return True

    def leave(self) -> None:
        self.count -= 1
        self._gauge.set(self.count)
