"""Processes the demo, the bench and the tests run beside the services: router workers and the sink."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.procs import ManagedProcess
from mobius.settings import MobiusSettings, settings_env

MOBIUS = str(Path(sys.executable).parent / "mobius")


@dataclass(frozen=True)
class Worker:
    """One `mobius worker` process with the given settings and provider environment."""

    name: str
    settings: MobiusSettings
    provider_env: dict[str, str]

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(self.name, self.settings.state_dir / "workers" / self.name)

    def start(self) -> int:
        env = child_env(self.settings, MOBIUS_WORKER_ID=self.name, **self.provider_env)
        return self.process.start([MOBIUS, "worker"], env=env)

    def stop(self) -> bool:
        return self.process.stop(timeout_s=30)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown, no final commit."""
        self.process.kill()


@dataclass(frozen=True)
class SinkProcess:
    """The `mobius sink` process (it owns the embedded ClickHouse path while it runs)."""

    settings: MobiusSettings

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("sink", self.settings.state_dir / "sink-process")

    def start(self) -> int:
        return self.process.start([MOBIUS, "sink"], env=child_env(self.settings))

    def stop(self) -> bool:
        return self.process.stop(timeout_s=30)


def child_env(settings: MobiusSettings, **extra: str) -> dict[str, str]:
    """This process's environment with exactly `settings` as the MOBIUS_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBIUS_")}
    env.update(settings_env(settings))
    env.update(extra)
    return env
