"""make test runs on pytest-xdist workers with --dist loadgroup so that every test of the one local cluster
runs on the same worker (tests/cluster/conftest.py marks them). Some pytest/xdist pairs silently stop
grouping (pytest-dev/pytest-xdist#1386): the cluster tests then fight over one cluster from two workers.
This runs the same mechanism on a tiny suite and checks that the group stays on one worker."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

GROUPED = 8


def test_tests_marked_by_a_conftest_hook_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    together: one group\n")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(
        textwrap.dedent(
            """
            import pytest

            @pytest.hookimpl(tryfirst=True)
            def pytest_collection_modifyitems(items):
                for item in items:
                    if item.get_closest_marker("together"):
                        item.add_marker(pytest.mark.xdist_group("together"))
            """
        )
    )
    for name in ("a", "b"):
        (suite / f"test_{name}.py").write_text(
            textwrap.dedent(
                f"""
                import pytest

                @pytest.mark.together
                @pytest.mark.parametrize("n", range({GROUPED // 2}))
                def test_grouped(n):
                    pass

                @pytest.mark.parametrize("n", range(4))
                def test_free(n):
                    pass
                """
            )
        )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider", "suite"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers = re.findall(r"\[(gw\d+)\].*PASSED suite/test_\w\.py::test_grouped", done.stdout)
    assert len(workers) == GROUPED, done.stdout[-2000:]
    assert len(set(workers)) == 1, f"the group ran on {sorted(set(workers))}:\n{done.stdout[-2000:]}"
