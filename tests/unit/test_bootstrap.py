"""How every service starts and stops (blackfriday.bootstrap) and what its probes read (readiness)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator

import pytest

from blackfriday import bootstrap, logs
from blackfriday.api.settings import ApiSettings
from blackfriday.readiness import Heartbeat, Readiness


@pytest.fixture(autouse=True)
def restore_global_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """bootstrap.run configures logging and the exception hooks for the process: undo it after each test."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def test_a_bad_setting_exits_2_with_one_line_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    async def never(settings: ApiSettings, stop: asyncio.Event) -> None:
        raise AssertionError("must not start")

    assert bootstrap.run("api", ApiSettings, never, environ={"FORWARD_BATCH_MAX": "0"}) == 2
    err = capsys.readouterr().err
    assert err == "bf-api: FORWARD_BATCH_MAX: must be at least 1, got 0\n"


def test_sigterm_sets_stop_and_a_clean_return_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[bool] = []

    async def serve(settings: ApiSettings, stop: asyncio.Event) -> None:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
        seen.append(stop.is_set())

    assert bootstrap.run("api", ApiSettings, serve, environ={}) == 0
    assert seen == [True]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"msg": "shutting down", "signal": "SIGTERM"}.items() <= lines[0].items()


def test_a_port_taken_exits_1_and_a_crash_exits_1_with_a_json_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    async def taken(settings: ApiSettings, stop: asyncio.Event) -> None:
        raise OSError("[Errno 98] address already in use")

    async def crash(settings: ApiSettings, stop: asyncio.Event) -> None:
        raise RuntimeError("boom")

    assert bootstrap.run("api", ApiSettings, taken, environ={}) == 1
    assert bootstrap.run("api", ApiSettings, crash, environ={}) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # every line is JSON
    assert any(line["msg"] == "cannot start" and "already in use" in line["error"] for line in lines)
    crashed = next(line for line in lines if line["msg"] == "stopped by an unexpected error")
    assert "RuntimeError: boom" in crashed["exc"]


def test_readiness_tracks_changes_and_draining_wins() -> None:
    readiness = Readiness("starting")
    assert readiness.state() == (False, "starting")
    assert readiness.set(True, "Kafka reachable") is True
    assert readiness.set(True, "Kafka reachable") is False
    assert readiness.state() == (True, "Kafka reachable")
    readiness.drain()
    assert readiness.state() == (False, "shutting down")
    readiness.set(True, "Kafka reachable")
    assert readiness.ready is False


def test_a_heartbeat_ages_until_the_next_beat() -> None:
    heartbeat = Heartbeat()
    first = heartbeat.age
    assert first >= 0
    heartbeat.beat()
    assert heartbeat.age < 1


def test_kafka_clients_reconnect_noise_is_quiet_but_group_changes_are_logged() -> None:
    """At INFO, kafka-python's connection chatter stays below WARNING while its group coordination (joins,
    assignments, revocations) is logged: an operator sees which partitions a consumer holds, and why."""
    loggers = [logging.getLogger(name) for name in ("kafka", "kafka.coordinator")]
    levels = [logger.level for logger in loggers]
    try:
        logs.configure("consumer", "INFO")
        assert not logging.getLogger("kafka.net.connection").isEnabledFor(logging.INFO)
        assert logging.getLogger("kafka.coordinator.base").isEnabledFor(logging.INFO)
        assert logging.getLogger("kafka.coordinator.consumer").isEnabledFor(logging.INFO)
        logs.configure("consumer", "WARNING")
        assert not logging.getLogger("kafka.coordinator.base").isEnabledFor(logging.INFO)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
