"""A long-running child process tracked by a pid file under the state directory.

The process runs in its own session so `mobius up` can exit and leave it running, and `stop`
signals the whole process group so no JVM or helper outlives `mobius down`. The pid file alone
is not trusted: it holds the pid and the process's start time as the kernel reports it, and a
process is ours only while one with that pid is alive and started at that time, so a recycled
pid (a new process, a later start) is never mistaken for (or killed as) ours. Neither the command
line nor the working directory would do: redis-server rewrites its command line, and chDB changes
the sink's working directory while it opens the engine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
from tenacity import RetryError, Retrying, stop_after_delay, wait_fixed

from infra.errors import ServiceFailedToStart

# Children started by this process, kept so they are reaped (not left as zombies or warned
# about as "still running") when this same process stops them, as tests do.
_children: dict[int, subprocess.Popen[bytes]] = {}
# psutil's start time is the kernel's ticks since boot plus the boot time, which the kernel derives
# from the wall clock, so a clock adjustment can move it by a little. A recycled pid means the pid
# space (32,768 here) wrapped around in between: not within a second.
START_TIME_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class ManagedProcess:
    """A background process owned by a run directory (pid file, log), started and stopped safely."""

    name: str
    run_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / f"{self.name}.out"

    def pid(self) -> int | None:
        """The pid of our live process, or None (a stale or unreadable pid file is removed)."""
        try:
            record = self.pid_file.read_text()
        except FileNotFoundError:
            return None
        identity = _parse_pid_file(record)
        if identity is not None and _is_ours(*identity, self.run_dir.resolve()):
            return identity[0]
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - argv is built by us, never from user text
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                env=env,
                start_new_session=True,
            )
        _children[proc.pid] = proc
        self.pid_file.write_text(_pid_file_text(proc.pid))
        return proc.pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def wait_ready(self, ready: Callable[[], bool], what: str, timeout_s: float, poll_s: float = 0.1) -> None:
        """Poll `ready()` until true. A process that exits meanwhile, or is still not ready at the
        deadline (then it is stopped: nothing half-started is left), is a ServiceFailedToStart
        naming `what`, with the tail of its log."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.is_running():
                raise ServiceFailedToStart(f"{what} exited during start:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(poll_s)
        tail = self.log_tail()
        self.stop()
        raise ServiceFailedToStart(f"{what} was not ready within {timeout_s:.0f} s:\n{tail}")

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop gracefully, then forcibly; True when a process was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout_s):
            _signal_group(pid, signal.SIGKILL)
            _wait_gone(pid, 10.0)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL the process alone, as a crash would (no graceful shutdown)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _pid_file_text(pid: int) -> str:
    """`pid create_time`; a child that is already gone gets no start time, so it is never ours."""
    try:
        created = psutil.Process(pid).create_time()  # a zombie still has its start time
    except psutil.Error:
        return f"{pid} gone\n"
    return f"{pid} {created!r}\n"


def _parse_pid_file(text: str) -> tuple[int, float | None] | None:
    """(pid, start time) from a pid file; a pid alone (an older file) has no start time (None)."""
    fields = text.split()
    try:
        if len(fields) == 1:
            return int(fields[0]), None
        if len(fields) == 2:  # noqa: PLR2004 - pid and start time
            return int(fields[0]), float(fields[1])
    except ValueError:
        return None
    return None


def _is_ours(pid: int, created: float | None, run_dir: Path) -> bool:
    """Alive (not a zombie) and started when we started it: a recycled pid is somebody else's.
    A pid file from before start times were written is checked the old way, by the process
    running in `run_dir`, so an upgrade can still stop what the previous version started."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            _reap(pid)
            return False
        if created is None:
            return Path(process.cwd()) == run_dir
        return abs(process.create_time() - created) < START_TIME_TOLERANCE_S
    except psutil.Error:
        _reap(pid)
        return False


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)


def _gone(pid: int) -> bool:
    """Exited (reaped here if it is our child): no process, or only its zombie."""
    try:
        gone = psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        gone = True
    if gone:
        _reap(pid)
    return gone


def _wait_gone(pid: int, timeout_s: float) -> bool:
    try:
        for attempt in Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.05)):
            with attempt:
                if not _gone(pid):
                    raise TimeoutError(pid)
    except RetryError:
        return False
    return True
