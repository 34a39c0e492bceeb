"""--record-times (tests/conftest.py): each test's time summed by suite into docs/testing.md's table."""

from __future__ import annotations

from bftools.runtime.docs import replace_section
from tests import timings
from tests.conftest import ROOT

RUN = timings.Run(
    wall_seconds=452.4,
    date="2026-12-01",
    cores=2,
    workers=2,
    arguments=["-n", "2", "--dist", "loadgroup"],
    outcome="5 passed",
)


def test_a_test_belongs_to_the_suite_of_its_directory() -> None:
    assert timings.suite_of("tests/unit/test_sale.py::test_x[a/b::c]") == "tests/unit"
    assert timings.suite_of("tests/cluster/test_release_install.py::test_y") == "tests/cluster"
    assert timings.suite_of("tests/test_top.py::test_z") == "tests"


def test_durations_become_one_row_per_suite_with_the_run_above() -> None:
    durations = {
        "tests/unit/test_a.py::test_1": 0.25,
        "tests/unit/test_a.py::test_2": 0.5,
        "tests/chart/test_b.py::test_3": 61.0,
        "tests/integration/test_c.py::test_4[x]": 100.0,
        "tests/integration/test_c.py::test_5": 200.4,
    }
    text = timings.table(durations, RUN)
    lines = text.splitlines()
    assert lines[0] == (
        "The latest recorded run, 2026-12-01: `pytest -n 2 --dist loadgroup` on 2 pytest-xdist workers, 2 cores; "
        "5 passed. Its wall time: **7 min 32 s** (the suites' times add up to more when workers run them side by "
        "side)."
    )
    assert lines[2:] == [
        "| suite | tests | their time, summed |",
        "|---|---:|---:|",
        "| `tests/unit` | 2 | 0.8 s |",
        "| `tests/chart` | 1 | 1 min 01 s |",
        "| `tests/integration` | 2 | 5 min 00 s |",
        "| `tests/cluster` | not in this run | |",
        "| all | 5 | 6 min 02 s |",
    ]


def test_a_run_in_one_process_of_every_suite_says_so() -> None:
    one = timings.Run(10.0, "2026-12-01", 2, 0, [], "1 passed")
    first = timings.table({"tests/unit/t.py::a": 1.0}, one).splitlines()[0]
    assert "`pytest (no arguments: every suite)` on one process" in first


def test_the_table_fits_the_markers_of_docs_testing_md() -> None:
    doc = (ROOT / "docs" / "testing.md").read_text()
    text = timings.table({"tests/unit/t.py::a": 1.0}, RUN)
    written = replace_section(doc, timings.SECTION, text)
    assert f"<!-- test-times:begin -->\n{text}\n<!-- test-times:end -->" in written
    assert replace_section(written, timings.SECTION, text) == written  # a second run replaces, not appends
