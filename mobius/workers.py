"""Workers started by hand (`mobius worker`) register here, so `mobius down` stops them too."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
from pathlib import Path

import psutil

REGISTRY = "running-workers"


def register_worker(state_dir: Path) -> None:
    """Record this process as a worker of `state_dir`, until it exits."""
    registry = state_dir / REGISTRY
    registry.mkdir(parents=True, exist_ok=True)
    entry = registry / str(os.getpid())
    entry.write_text(f"{os.getpid()}\n")
    atexit.register(lambda: entry.unlink(missing_ok=True))


def stop_registered_workers(state_dir: Path, timeout_s: float = 30.0) -> list[int]:
    """SIGTERM every live registered worker, SIGKILL those still alive after `timeout_s`; their pids."""
    registry = state_dir / REGISTRY
    workers = []
    for entry in sorted(registry.glob("*")) if registry.is_dir() else []:
        with contextlib.suppress(ValueError, psutil.Error):
            process = psutil.Process(int(entry.name))
            if "worker" in process.cmdline() and process.status() != psutil.STATUS_ZOMBIE:
                process.send_signal(signal.SIGTERM)
                workers.append(process)
        entry.unlink(missing_ok=True)
    _, alive = psutil.wait_procs(workers, timeout=timeout_s)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    return [p.pid for p in workers]
