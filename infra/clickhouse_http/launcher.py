"""Starting the ClickHouse HTTP front as a process of its own (tests use it; see the package docstring)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import psutil

from infra.errors import PortInUse, ServiceFailedToStart
from infra.ports import port_is_free
from infra.procs import ManagedProcess


@dataclass(frozen=True)
class ClickHouseHttp:
    """The embedded engine at `data_path`, answering ClickHouse's HTTP interface on a loopback port."""

    port: int
    data_path: Path

    @property
    def process(self) -> ManagedProcess:
        # Run in the data path itself (its pid file and log sit beside the store): the engine moves
        # the process there when it opens, and ManagedProcess knows its process by that directory.
        return ManagedProcess("clickhouse-http", self.data_path.resolve())

    @property
    def dsn(self) -> str:
        return f"http://127.0.0.1:{self.port}/default"

    def start(self, timeout_s: float = 60.0) -> None:
        if self.process.is_running():
            return
        if not port_is_free("127.0.0.1", self.port):
            raise PortInUse(f"the ClickHouse HTTP front needs 127.0.0.1:{self.port}, which is taken")
        argv = [sys.executable, "-m", "infra.clickhouse_http", "--path", str(self.process.run_dir)]
        pid = self.process.start([*argv, "--port", str(self.port)])
        # Not ManagedProcess.wait_ready: importing chDB moves the process into chDB's package folder
        # for a moment, and a process outside its run directory is taken for a stranger there.
        deadline = time.monotonic() + timeout_s
        while not self.answers():
            if not _alive(pid):
                raise ServiceFailedToStart(
                    f"the ClickHouse HTTP front exited during start:\n{self.process.log_tail()}"
                )
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                raise ServiceFailedToStart(
                    f"the ClickHouse HTTP front was not ready within {timeout_s:.0f} s"
                )
            time.sleep(0.1)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2) as response:
                return bool(response.status == HTTPStatus.OK)
        except (urllib.error.URLError, OSError):
            return False

    def hold_next_insert(self) -> None:
        self.control("POST", "/_front/hold-next-insert")

    def release(self) -> None:
        self.control("POST", "/_front/release")

    def hold_status(self) -> dict[str, Any]:
        """{"armed": bool, "waiting": [client port of each held insert], "finished": int}."""
        return self.control("GET", "/_front/hold")

    def control(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
            return result

    def stop(self) -> bool:
        return self.process.stop(timeout_s=15)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
