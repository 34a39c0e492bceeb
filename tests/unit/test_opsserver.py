"""The writer's and consumer's side HTTP server: a request that fails is a log record, never a traceback on
stderr (every line a service writes is JSON), and a client gone before its answer is no error at all."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from blackfriday.opsserver import OpsServer


@pytest.fixture
def ops() -> Iterator[OpsServer]:
    server = OpsServer("127.0.0.1", 0, CollectorRegistry(), lambda: (True, "ok"), lambda: (True, "ok")).start()
    yield server
    server.stop()


def fail_with(ops: OpsServer, error: Exception) -> None:
    try:
        raise error
    except type(error):
        ops._server.handle_error(None, ("127.0.0.1", 5555))


def test_a_client_that_left_is_not_an_error(
    ops: OpsServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="blackfriday.opsserver")
    fail_with(ops, BrokenPipeError(32, "Broken pipe"))
    fail_with(ops, ConnectionResetError(104, "Connection reset by peer"))
    assert capsys.readouterr().err == ""
    assert [r.levelname for r in caplog.records] == ["DEBUG", "DEBUG"]


def test_another_request_error_is_a_warning_log_record(
    ops: OpsServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    fail_with(ops, ValueError("bad request"))
    assert capsys.readouterr().err == ""
    [record] = caplog.records
    assert (record.levelname, record.getMessage()) == ("WARNING", "ops request failed")
    assert record.exc_info is not None
