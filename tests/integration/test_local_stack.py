"""`make up`, `make report`, `make down` and `make demo` as a user runs them, on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import valkey

from bftools.runtime.ports import free_port
from bftools.runtime.process import wait_for
from bftools.stack.valkey import ValkeyServer
from blackfriday.valkeyconn import Login
from tests.conftest import ROOT
from tests.integration.helpers import post_sales, wait_total

pytestmark = pytest.mark.integration


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its new parent has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@dataclass
class StackValkey:
    """The Valkey of a stack started with ``stack_env``: its address, and its users' logins."""

    valkey_addr: str
    server: ValkeyServer

    def valkey_login(self, user: str = "reader") -> Login:
        return self.server.login(user)


def local_stack(env: dict[str, str]) -> StackValkey:
    port = int(env["BF_VALKEY_PORT"])
    return StackValkey(f"127.0.0.1:{port}", ValkeyServer(Path(env["BF_STATE_DIR"]) / "local" / "valkey", port))


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "BF_STATE_DIR": str(tmp_path / "state"),
        "BF_API_PORT": str(free_port()),
        "BF_VALKEY_PORT": str(free_port()),
        "BF_KAFKA_PORT": str(free_port()),
    }
    yield env
    subprocess.run(["make", "--no-print-directory", "down"], cwd=ROOT, env=env, capture_output=True, check=False)


def make(target: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_up_report_down(stack_env: dict[str, str]) -> None:
    up = make("up", stack_env)
    assert up.returncode == 0, up.stderr
    api = f"http://127.0.0.1:{stack_env['BF_API_PORT']}"
    assert f"{api}/purchase" in up.stdout
    assert f"127.0.0.1:{stack_env['BF_VALKEY_PORT']}" in up.stdout

    again = make("up", stack_env)
    assert again.returncode == 0
    assert "already running" in again.stdout

    body = {"categoria": "Hogar", "producto_id": "Sofa", "precio": 499.99, "cantidad_vendida": 2}
    assert post_sales(api, [body])[0].status == 201
    wait_total(local_stack(stack_env), 1)
    report = make("report", stack_env)
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)
    assert figures["total_sales"] == 1
    assert figures["best_product"] == {"id": "Sofa", "units": 2}
    assert figures["max_price"] == 499.99
    # The stack's Valkey takes no client without a login (it once let anyone on the machine write bf:*).
    anonymous = valkey.Valkey(port=int(stack_env["BF_VALKEY_PORT"]), socket_timeout=5)
    with anonymous, pytest.raises(valkey.exceptions.AuthenticationError):
        anonymous.set("bf:sales:total", 10**6)

    state = json.loads((Path(stack_env["BF_STATE_DIR"]) / "local" / "state.json").read_text())
    pids = [p["pid"] for p in state["procs"].values()]
    down = make("down", stack_env)
    assert down.returncode == 0
    assert "stopped: api, bridge, writer, consumer, kafka, valkey" in down.stdout
    assert all(gone(pid) for pid in pids)
    assert make("down", stack_env).stdout.strip() == "nothing was running"


def test_snapshot_needs_a_running_stack(stack_env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "snapshot", f"PNG={tmp_path / 'x.png'}"],
        cwd=ROOT,
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "localstack snapshot: the local stack is not running: start it with make up" in done.stderr


def test_a_taken_port_is_a_one_line_error(stack_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(stack_env["BF_KAFKA_PORT"])))
        taken.listen()
        up = make("up", stack_env, timeout=60)
    assert up.returncode != 0
    message = [line for line in up.stderr.splitlines() if line.startswith("localstack")]
    assert message == [
        f"localstack up: kafka: port 127.0.0.1:{stack_env['BF_KAFKA_PORT']} is already in use "
        "(set BF_KAFKA_PORT to use another port)"
    ]


def test_demo_prints_the_summary_draws_the_dashboard_and_stops(stack_env: dict[str, str], tmp_path: Path) -> None:
    png = tmp_path / "dashboard.png"
    demo = make(
        "demo", {**stack_env, "BF_DEMO_SECONDS": "6", "BF_DEMO_USERS": "10", "BF_SNAPSHOT": str(png)}, timeout=300
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "every stored sale counted exactly once" in demo.stdout
    assert "Dashboard figures" in demo.stdout
    assert f"Dashboard snapshot (the Grafana panels drawn from the same queries): {png}" in demo.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "demo: stack stopped" in demo.stdout
    state = Path(stack_env["BF_STATE_DIR"]) / "demo" / "state.json"
    assert not state.exists()


@pytest.mark.slow
def test_up_restarts_what_died_and_down_stops_the_restarted(stack_env: dict[str, str]) -> None:
    assert make("up", stack_env).returncode == 0
    state_file = Path(stack_env["BF_STATE_DIR"]) / "local" / "state.json"
    before = json.loads(state_file.read_text())["procs"]
    for name in ("writer", "kafka"):
        os.kill(before[name]["pid"], signal.SIGKILL)
    assert wait_for(lambda: all(gone(before[n]["pid"]) for n in ("writer", "kafka")), 10)

    status = make("status", stack_env)
    lines = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
    assert " dead " in lines["writer"] + " "
    assert " dead " in lines["kafka"] + " "
    assert " running " in lines["api"] + " "
    assert "dead: kafka, writer (make up starts them again)" in status.stdout

    healed = make("up", stack_env)
    assert healed.returncode == 0, healed.stderr
    assert "restarted: kafka, writer" in healed.stdout
    after = json.loads(state_file.read_text())["procs"]
    assert after["api"]["pid"] == before["api"]["pid"]  # what ran was left alone
    api = f"http://127.0.0.1:{stack_env['BF_API_PORT']}"
    body = {"categoria": 1, "producto_id": "TV", "precio": 10, "cantidad_vendida": 1}
    assert wait_for(lambda: post_sales(api, [body])[0].status == 201, 60)
    assert "running" in make("status", stack_env).stdout

    down = make("down", stack_env)
    assert "stopped: api, bridge, writer, consumer, kafka, valkey" in down.stdout
    assert all(gone(p["pid"]) for p in after.values())
