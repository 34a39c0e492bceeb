"""Locust scenario: a flash sale. Warm-up to the base number of shoppers, a spike to five times as many,
a plateau, a cool-down, then stop (LoadTestShape).

    locust -f apps/blackfriday/loadgen/flashsale.py --headless --host http://127.0.0.1:8080

BF_FLASH_USERS (base shoppers, default 100) and BF_FLASH_SECONDS (the whole run, default 60) size it; the
phases take 20 % (warm-up), 20 % (base), 25 % (spike), 20 % (plateau at the spike) and 15 % (cool-down) of
it. With BF_FLASH_RESULTS=path, the latency percentiles of each phase and its failures are written there
as JSON when Locust quits. Shoppers keep the seed's pace (0.5-2 s between purchases) on FastHttpUser.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, LoadTestShape, between, events

from blackfriday.loadgen.shopping import Shopping, purchase_task

BASE = int(os.environ.get("BF_FLASH_USERS", "100"))
SECONDS = float(os.environ.get("BF_FLASH_SECONDS", "60"))
#: (phase, share of the run, users at its end)
PHASES = [
    ("warm-up", 0.20, BASE),
    ("base", 0.20, BASE),
    ("spike", 0.25, 5 * BASE),
    ("plateau", 0.20, 5 * BASE),
    ("cool-down", 0.15, BASE),
]
_samples: dict[str, list[float]] = {name: [] for name, _, _ in PHASES}
_failures: dict[str, int] = {name: 0 for name, _, _ in PHASES}
_started = {"at": 0.0}


def phase_at(elapsed: float) -> tuple[str, int] | None:
    """The phase and its target users ``elapsed`` seconds into the run; None once it is over."""
    start, users_before = 0.0, 0
    for name, share, users in PHASES:
        end = start + share * SECONDS
        if elapsed < end:
            if name in ("warm-up", "spike", "cool-down"):  # ramps: from the previous level to this one
                users = math.ceil(users_before + (users - users_before) * (elapsed - start) / (end - start))
            return name, max(1, users)
        start, users_before = end, users
    return None


class FlashSale(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        if not _started["at"]:
            _started["at"] = time.monotonic()
        now = phase_at(self.get_run_time())  # type: ignore[no-untyped-call]
        return None if now is None else (now[1], max(10.0, BASE / 2))


class FlashShopper(Shopping, FastHttpUser):
    wait_time = between(0.5, 2.0)
    tasks = [purchase_task]  # noqa: RUF012 - the attribute Locust reads


@events.request.add_listener  # type: ignore[untyped-decorator]
def _record(response_time: float, exception: Any, **_: Any) -> None:
    now = phase_at(time.monotonic() - _started["at"]) if _started["at"] else None
    if now is None:
        return
    _samples[now[0]].append(response_time)
    if exception is not None:
        _failures[now[0]] += 1


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def _write(**_: Any) -> None:
    path = os.environ.get("BF_FLASH_RESULTS")
    if not path:
        return

    def pct(values: list[float], q: float) -> float | None:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None

    phases = {
        name: {
            "requests": len(_samples[name]),
            "failures": _failures[name],
            "p50_ms": pct(_samples[name], 0.50),
            "p95_ms": pct(_samples[name], 0.95),
            "p99_ms": pct(_samples[name], 0.99),
        }
        for name, _, _ in PHASES
    }
    Path(path).write_text(json.dumps({"base_users": BASE, "seconds": SECONDS, "phases": phases}, indent=2))
