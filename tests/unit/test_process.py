"""Processes a test or a benchmark starts die with it; the local stack's processes outlive their starter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from bftools.runtime.process import wait_for

ROOT = Path(__file__).resolve().parents[2]

STARTER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from bftools.runtime.process import die_with_this_process, spawn
    if sys.argv[1] == "tied":
        die_with_this_process()
    proc = spawn("sleeper", ["sleep", "300"], log=Path(sys.argv[2]), marker="300")
    print(proc.pid, flush=True)
    os._exit(0)  # no clean-up at all: as if the run were killed
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _start(mode: str, tmp_path: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-c", STARTER, mode, str(tmp_path / "sleeper.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return int(out.stdout.split()[0])


def test_a_process_started_after_die_with_this_process_dies_with_its_starter(tmp_path: Path) -> None:
    pid = _start("tied", tmp_path)
    assert wait_for(lambda: not _alive(pid), 10), f"sleeper {pid} outlived the process that started it"


def test_without_it_a_process_outlives_its_starter(tmp_path: Path) -> None:
    pid = _start("free", tmp_path)
    try:
        assert _alive(pid), "the local stack's processes must outlive `make up`"
    finally:
        if _alive(pid):
            os.kill(pid, 9)
