"""The suite runs in a random order (pytest-random-order, switched on by pyproject.toml's addopts), so that no
test passes only because another ran before it. The seed is in the run's header: --random-order-seed=N
repeats an order."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

TESTS = 12


def test_this_run_is_in_random_order(pytestconfig: pytest.Config) -> None:
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    assert "--random-order" in addopts
    assert pytestconfig.pluginmanager.hasplugin("random_order")
    assert pytestconfig.getoption("random_order_enabled"), "random order is off for this run"
    assert pytestconfig.getoption("random_order_bucket").removeprefix("default:") == "module"


def ran(tmp_path: Path, *args: str) -> tuple[list[int], str]:
    """The order in which a module of TESTS tests ran under the project's own pytest configuration, and the
    seed the run printed."""
    argv = [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-v"]
    done = subprocess.run(
        [*argv, *args, str(tmp_path / "test_numbered.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    seed = re.search(r"^Using --random-order-seed=(\d+)$", done.stdout, re.M)
    order = [int(n) for n in re.findall(r"test_numbered\.py::test_(\d+) PASSED", done.stdout)]
    assert sorted(order) == list(range(TESTS)), done.stdout[-2000:]
    return order, seed.group(1) if seed else ""


def test_the_project_configuration_shuffles_the_tests_and_a_seed_repeats_an_order(tmp_path: Path) -> None:
    (tmp_path / "test_numbered.py").write_text(
        "".join(textwrap.dedent(f"\n\ndef test_{n}():\n    pass\n") for n in range(TESTS))
    )
    order, seed = ran(tmp_path)  # no option: the configuration alone (1 chance in 12! to keep the file's order)
    assert order != list(range(TESTS)), "the tests ran in the order of the file"
    assert seed, "the run did not print its seed"
    assert ran(tmp_path, f"--random-order-seed={seed}")[0] == order
    assert ran(tmp_path, "--random-order-bucket=none")[0] == list(range(TESTS))
