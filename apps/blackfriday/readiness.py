"""What a service's probes answer: a small typed state the service sets and the probes read.

``Readiness`` says whether the service can do its work now, and why; ``Heartbeat`` says when a worker loop
last came round (liveness). Both are set from one thread or task and read from another (probe handlers),
which is safe for these single-attribute updates.
"""

from __future__ import annotations

import time


class Readiness:
    def __init__(self, reason: str = "starting") -> None:
        self._ready = False
        self._reason = reason
        self._draining = False

    @property
    def ready(self) -> bool:
        return self._ready and not self._draining

    @property
    def draining(self) -> bool:
        """True once shutdown began: not ready for good, whatever the dependencies say."""
        return self._draining

    @property
    def reason(self) -> str:
        return "shutting down" if self._draining else self._reason

    def set(self, ready: bool, reason: str) -> bool:
        """Record the state; True when readiness changed."""
        changed = ready != self._ready
        self._ready, self._reason = ready, reason
        return changed

    def drain(self) -> None:
        self._draining = True

    def state(self) -> tuple[bool, str]:
        return self.ready, self.reason


class Heartbeat:
    """When a loop last came round; liveness fails when that is longer ago than the loop may stall."""

    def __init__(self) -> None:
        self._at = time.monotonic()

    def beat(self) -> None:
        self._at = time.monotonic()

    @property
    def age(self) -> float:
        return time.monotonic() - self._at
