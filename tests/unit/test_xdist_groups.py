"""make test runs on pytest-xdist workers with --dist loadgroup so that every test of the one local cluster
runs on the same worker (tests/cluster/conftest.py marks them), and in a random order (pytest-random-order,
from pyproject's addopts) with the tests that stop the cluster placed after the last one that uses it.
Some pytest/xdist pairs silently stop grouping (pytest-dev/pytest-xdist#1386), and a shuffle that ran after
the placement would stop the cluster half-way: the cluster tests would then fight over one cluster from two
workers, or find it stopped. This runs tests/cluster/conftest.py's own hooks on a tiny suite, in file order
and shuffled, and checks that the group stays on one worker and that its teardown runs last; and that the
group, then the other slow tests, come first in the order xdist hands out work (the longest first)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import ROOT

GROUPED = 8


@pytest.mark.parametrize("order", [["--random-order-bucket=none"], ["--random-order", "--random-order-seed=3"]])
def test_the_cluster_tests_run_on_one_worker_with_their_teardown_last(tmp_path: Path, order: list[str]) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    cluster: the cluster\n    cluster_teardown: stops it\n"
        "    slow: takes a while\n    xdist_group: declared as in pyproject.toml\n"
    )
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            import sys

            sys.path.insert(0, {str(ROOT)!r})  # the checkout's tests package, for its cluster conftest's hooks

            from tests.cluster.conftest import (
                pytest_collection_modifyitems,
                pytest_collection_modifyitems_cluster_first,
            )
            """
        )
    )
    for name in ("a", "b"):
        (suite / f"test_{name}.py").write_text(
            textwrap.dedent(
                f"""
                import pytest

                @pytest.mark.cluster
                @pytest.mark.parametrize("n", range({GROUPED // 2}))
                def test_grouped(n):
                    pass

                @pytest.mark.parametrize("n", range(4))
                def test_free(n):
                    pass

                @pytest.mark.slow
                def test_long():
                    pass
                """
            )
        )
    with (suite / "test_a.py").open("a") as handle:
        handle.write("\n@pytest.mark.cluster\n@pytest.mark.cluster_teardown\ndef test_stop():\n    pass\n")
    argv = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*argv, *order, "suite"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ran = re.findall(r"\[(gw\d+)\].*PASSED (suite/test_\w\.py::test_(?:grouped|stop)\S*)", done.stdout)
    assert len(ran) == GROUPED + 1, done.stdout[-2000:]
    workers = {worker for worker, _ in ran}
    assert len(workers) == 1, f"the group ran on {sorted(workers)}:\n{done.stdout[-2000:]}"
    assert ran[-1][1].startswith("suite/test_a.py::test_stop"), f"the teardown ran before {ran}"
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *order, "suite"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout.splitlines()
    tests = [line for line in collected if "::" in line]
    names = [t.split("::")[1].split("[")[0] for t in tests]
    assert names[: GROUPED + 3] == ["test_grouped"] * GROUPED + ["test_stop", "test_long", "test_long"], tests
