"""Test helpers: private stacks on free ports, and the real `mobius` console script run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

from infra.ports import pick_free_port
from mobius.settings import MobiusSettings, settings_env

MOBIUS = str(Path(sys.executable).parent / "mobius")
PROVIDER_VARIABLES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_BASE", "ANTHROPIC_API_BASE")


def run_mobius(
    *args: str, env: dict[str, str], path: str | None = None, timeout: float = 240, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = _local_environ() | env
    full_env["COLUMNS"] = "200"  # keep rich tables on one line per row
    if path is not None:
        full_env["PATH"] = path
    return subprocess.run(
        [MOBIUS, *args],
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def local_settings(state_dir: Path, **overrides: object) -> MobiusSettings:
    """Settings for a private stack on free loopback ports."""
    values: dict[str, object] = {
        "kafka_bootstrap_servers": f"127.0.0.1:{pick_free_port()}",
        "kafka_controller_port": pick_free_port(),
        "redis_url": f"redis://127.0.0.1:{pick_free_port()}/0",
        "state_dir": state_dir,
        "kafka_partitions": 3,
        "simulator_port": pick_free_port(),
    }
    values.update(overrides)
    return MobiusSettings(**values)  # type: ignore[arg-type]


def processes_under(state_dir: Path) -> list[int]:
    """Every live process (but this one) running in the state directory or started with it as its
    MOBIUS_STATE_DIR: the sink leaves its directory while chDB opens the engine."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid() or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if _runs_under(process, state_dir):
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def _runs_under(process: psutil.Process, state_dir: Path) -> bool:
    if Path(process.cwd()).is_relative_to(state_dir):
        return True
    own_state_dir = process.environ().get("MOBIUS_STATE_DIR")
    return own_state_dir is not None and Path(own_state_dir).resolve().is_relative_to(state_dir.resolve())


def local_mode_env(state_dir: Path) -> dict[str, str]:
    """A private stack's ports and no provider keys: local mode, as on a fresh machine."""
    return {**_local_environ(), **settings_env(local_settings(state_dir)), "COLUMNS": "200"}


def _local_environ() -> dict[str, str]:
    """This process's environment without MOBIUS_ settings or provider variables: a machine's own
    provider keys must not switch a test out of local mode (tests set what they need)."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith("MOBIUS_") and k not in PROVIDER_VARIABLES
    }


def start_dev(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """`mobius dev` in the foreground, once it says ready; its output lines so far."""
    dev = subprocess.Popen(
        [MOBIUS, "dev"], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    lines: list[str] = []
    assert dev.stdout is not None
    for line in dev.stdout:  # ends when dev exits: the caller's timeout bounds the whole test
        lines.append(line)
        if "ready" in line:
            break
    if not any("ready" in line for line in lines):
        dev.kill()
        dev.wait(timeout=30)
        raise AssertionError("".join(lines[-40:]))
    return dev, lines
