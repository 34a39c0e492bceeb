"""Shared test set-up: where the repository and ../shared are, and --record-times (tests/timings.py)."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import pytest

from bftools.runtime.docs import replace_section, write_section
from bftools.runtime.process import die_with_this_process
from tests import timings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-times",
        metavar="PATH",
        help="at the end, write each suite's tests and their time, and the run's wall time, between the "
        "test-times markers of PATH (docs/testing.md; make test RECORD_TIMES=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Brokers and servers a test starts die with the test run, even one killed before its clean-up."""
    die_with_this_process()
    option = config.getoption("record_times")
    # Under pytest-xdist the controller sees every worker's reports: only it records.
    if option and not hasattr(config, "workerinput"):
        doc = config.invocation_params.dir / option
        try:
            replace_section(doc.read_text(), timings.SECTION, "", doc)
        except (OSError, ValueError) as exc:
            raise pytest.UsageError(f"--record-times: {exc}") from None
        config.pluginmanager.register(TimeRecorder(config, doc), "bf-time-recorder")


class TimeRecorder:
    """Each test's setup + call + teardown time, and the run's wall time, into the document at the end."""

    def __init__(self, config: pytest.Config, doc: Path) -> None:
        self.config = config
        self.doc = doc
        self.started = time.monotonic()
        self.durations: dict[str, float] = {}
        self.failed: set[str] = set()
        self.skipped: set[str] = set()
        self.written = False

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration
        if report.failed:
            self.failed.add(report.nodeid)
        elif report.skipped:
            self.skipped.add(report.nodeid)

    def outcome(self, exitstatus: int) -> str:
        passed = len(self.durations) - len(self.failed | self.skipped)
        parts = [f"{passed} passed"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            parts.append("interrupted")
        return ", ".join(parts)

    def arguments(self) -> list[str]:
        """pytest's arguments without --record-times itself."""
        args = list(self.config.invocation_params.args)
        kept: list[str] = []
        skip_next = False
        for arg in args:
            if skip_next:
                skip_next = False
            elif arg == "--record-times":
                skip_next = True
            elif not arg.startswith("--record-times="):
                kept.append(arg)
        return kept

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.durations:
            return
        workers = self.config.getoption("numprocesses", None)
        run = timings.Run(
            wall_seconds=time.monotonic() - self.started,
            date=datetime.date.today().isoformat(),
            cores=len(os.sched_getaffinity(0)),
            workers=workers if isinstance(workers, int) else 0,
            arguments=self.arguments(),
            outcome=self.outcome(exitstatus),
        )
        write_section(self.doc, timings.SECTION, timings.table(self.durations, run))
        self.written = True

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.written:
            terminalreporter.write_line(f"test times written to {self.doc}")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (CRDs, schemas); tests that need it skip with a clear message in a user's own clone."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (only the project's CI workspace has it): skipping its validation")
    return SHARED
