"""How long each suite took: pytest's --record-times=PATH (tests/conftest.py) sums each test's durations by
suite and writes the table this module builds between <!-- test-times:begin --> and <!-- test-times:end -->
in PATH (docs/testing.md; `make test RECORD_TIMES=1`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

SECTION: Final = "test-times"
SUITES: Final = ("tests/unit", "tests/chart", "tests/integration", "tests/cluster")


def suite_of(nodeid: str) -> str:
    """``tests/unit/test_sale.py::test_x`` -> ``tests/unit``; a test outside the suites -> its directory."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return "/".join(parts[:2]) if len(parts) > 2 else parts[0]


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


@dataclass(frozen=True)
class Run:
    """What the table says about the run besides the tests' times."""

    wall_seconds: float
    date: str  # ISO date of the run
    cores: int
    workers: int  # pytest-xdist workers; 0: in one process
    arguments: Sequence[str]  # pytest's arguments (the selection)
    outcome: str  # e.g. "every test passed", "3 failed"


def table(durations: Mapping[str, float], run: Run) -> str:
    """The section's Markdown from each test's time (node id -> setup + call + teardown seconds)."""
    counts: dict[str, int] = {}
    sums: dict[str, float] = {}
    for nodeid, seconds in durations.items():
        suite = suite_of(nodeid)
        counts[suite] = counts.get(suite, 0) + 1
        sums[suite] = sums.get(suite, 0.0) + seconds
    rows = ["| suite | tests | their time, summed |", "|---|---:|---:|"]
    for suite in [*SUITES, *sorted(s for s in counts if s not in SUITES)]:
        if suite in counts:
            rows.append(f"| `{suite}` | {counts[suite]} | {duration(sums[suite])} |")
        else:
            rows.append(f"| `{suite}` | not in this run | |")
    rows.append(f"| all | {sum(counts.values())} | {duration(sum(sums.values()))} |")
    workers = f"{run.workers} pytest-xdist workers" if run.workers else "one process"
    arguments = " ".join(run.arguments) if run.arguments else "(no arguments: every suite)"
    return "\n".join(
        [
            f"The latest recorded run, {run.date}: `pytest {arguments}` on {workers}, {run.cores} cores; "
            f"{run.outcome}. Its wall time: **{duration(run.wall_seconds)}** (the suites' times add up to more "
            "when workers run them side by side).",
            "",
            *rows,
        ]
    )
