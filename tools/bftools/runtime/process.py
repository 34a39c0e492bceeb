"""Background processes: started in their own session with output to a log file, stopped by pid.

A stopped-by-pid process is first checked to be the one we started (its command line carries the
marker we gave it), so a recycled pid is never signalled.

The local stack (``make up``) outlives the command that started it. Tests, benchmarks and ``make
chaos`` own their processes instead: they call :func:`die_with_this_process` first, and a run that is
killed before its clean-up (a timeout, Ctrl-C twice) takes its brokers and servers with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class NotReady(RuntimeError):
    """A process did not become ready in time; the message names it and its log."""


@dataclass(frozen=True)
class Proc:
    name: str
    pid: int
    log: Path
    #: A string of the process's command line that proves it is ours.
    marker: str

    def alive(self) -> bool:
        child = _children.get(self.pid) or _exited.get(self.pid)
        if child is not None:  # started by this process: ask the Popen, no /proc race right after exec
            return child.poll() is None
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        if self.marker not in cmdline:
            return False
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"

    @property
    def returncode(self) -> int | None:
        """The exit status of a process this interpreter started (None while it runs or if unknown)."""
        child = _children.get(self.pid) or _exited.get(self.pid)
        return None if child is None else child.poll()

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. True when it exited on SIGTERM."""
        if not self.alive():
            return True
        self.signal(signal.SIGTERM)
        if wait_for(lambda: not self.alive(), timeout):
            return True
        self.signal(signal.SIGKILL)
        wait_for(lambda: not self.alive(), 5.0)
        return False

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


_children: dict[int, subprocess.Popen[bytes]] = {}
_exited: dict[int, subprocess.Popen[bytes]] = {}
_die_with_parent = False
_PR_SET_PDEATHSIG = 1


def die_with_this_process() -> None:
    """Processes spawned from now on get SIGKILL when this process (the thread that spawns) dies.

    Spawn from the main thread only: Linux signals the child when the spawning *thread* exits.
    """
    global _die_with_parent
    _die_with_parent = True


def _parent_death_signal(parent: int) -> Callable[[], None]:
    def arm() -> None:  # runs in the child between fork and exec
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != parent:
            os._exit(126)  # could not arm, or the parent is already gone

    return arm


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    marker: str | None = None,
    die_with_parent: bool | None = None,
) -> Proc:
    """Start ``argv`` in the background (its own session, stdin closed, output appended to ``log``).

    ``die_with_parent`` overrides :func:`die_with_this_process` for this one process.
    """
    tied = _die_with_parent if die_with_parent is None else die_with_parent
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_parent_death_signal(os.getpid()) if tied else None,
        )
    _children[child.pid] = child  # reaped by wait_for's poll so that it never lingers as a zombie
    return Proc(name=name, pid=child.pid, log=log, marker=marker or str(argv[-1]))


def _reap() -> None:
    for pid, child in list(_children.items()):
        if child.poll() is not None:
            _exited[pid] = _children.pop(pid)


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        _reap()
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_ready(proc: Proc, ready: Callable[[], bool], timeout: float) -> None:
    """Wait until ``ready()``; NotReady (with the log's tail) if the process dies or time runs out."""
    if wait_for(lambda: ready() or not proc.alive(), timeout) and proc.alive():
        return
    state = "exited" if not proc.alive() else f"was not ready after {timeout:.0f}s"
    raise NotReady(f"{proc.name} {state}; see {proc.log}\n{proc.tail()}")
