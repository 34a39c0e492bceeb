"""A small side HTTP server for the services that do not speak HTTP themselves (writer, consumer).

GET /metrics -> Prometheus text format of the service's registry
GET /healthz -> 200 while the process is alive and its main loop is making progress (liveness)
GET /readyz  -> 200 when the service can do its work (its dependencies are reachable)
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from blackfriday.metrics import READY_HELP

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]


class _Server(ThreadingHTTPServer):
    """The stdlib server, whose request errors become log records (JSON like every other line) instead of a
    traceback printed to stderr; a client that left before its answer (a scraper past its timeout on a
    loaded machine) is no error of the service's."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):  # BrokenPipeError, ConnectionResetError, ...
            log.debug("ops client went away", extra={"client": str(client_address), "error": str(error)})
            return
        log.warning("ops request failed", exc_info=True, extra={"client": str(client_address)})


class OpsServer:
    def __init__(self, host: str, port: int, registry: CollectorRegistry, live: Check, ready: Check) -> None:
        self._registry = registry
        self._checks = {"/healthz": live, "/readyz": ready}
        self._ready = Gauge("bf_ready", READY_HELP, registry=registry)
        self._server = _Server((host, port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> OpsServer:
        self._thread.start()
        log.info("ops server listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def check(self, path: str) -> tuple[bool, str]:
        try:
            return self._checks[path]()
        except Exception as exc:  # a failing check is a failed probe, not a crash
            return False, f"check failed: {exc}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ops = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    ops._ready.set(1 if ops.check("/readyz")[0] else 0)  # bf_ready as fresh as the scrape
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(ops._registry))
                    return
                if path not in ops._checks:
                    self._json(404, {"error": "not found"})
                    return
                ok, reason = ops.check(path)
                self._json(200 if ok else 503, {"status": "ok" if ok else "unavailable", "reason": reason})

            def _json(self, code: int, body: dict[str, Any]) -> None:
                self._send(code, "application/json", json.dumps(body).encode())

            def _send(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # probes every few seconds would flood the logs

        return Handler
