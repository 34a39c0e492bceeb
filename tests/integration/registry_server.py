"""A real OCI registry on 127.0.0.1 for the push tests: Debian's docker-registry (CNCF distribution)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bftools.runtime.paths import MissingTool
from bftools.runtime.process import Proc, spawn, wait_ready


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class RegistryServer:
    home: Path
    port: int
    proc: Proc | None = field(default=None, init=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, log: Path, timeout: float = 30.0) -> Proc:
        binary = shutil.which("docker-registry") or shutil.which("registry")
        if binary is None:
            raise MissingTool("docker-registry is not installed: run scripts/setup registry")
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        config = self.home / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.home / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        self.proc = spawn("registry", [binary, "serve", str(config)], log=log)
        wait_ready(self.proc, lambda: _answers(f"http://{self.address}/v2/"), timeout)
        return self.proc

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(10)
