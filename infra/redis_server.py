"""Debian's redis-server, run on a loopback port with its data under the state directory."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import redis

from infra.errors import PortInUse, ToolMissing
from infra.ports import port_is_free
from infra.procs import ManagedProcess

INSTALL_HINT = "apt-get update && apt-get install -y redis-server"


@dataclass(frozen=True)
class RedisServerConfig:
    """Where the local redis-server runs."""

    host: str
    port: int
    run_dir: Path
    command: str = "redis-server"


def render_redis_conf(cfg: RedisServerConfig) -> str:
    return "\n".join(
        [
            f"bind {cfg.host}",
            f"port {cfg.port}",
            "protected-mode yes",
            "daemonize no",
            f'dir "{cfg.run_dir}"',
            'logfile ""',
            # Budgets and overrides live here: keep them across restarts.
            "appendonly yes",
            'save ""',
            "",
        ]
    )


class RedisServer:
    """Debian's redis-server on a loopback port, with its data in the state directory."""

    def __init__(self, cfg: RedisServerConfig) -> None:
        self.cfg = cfg
        self.process = ManagedProcess("redis", cfg.run_dir)

    def preflight(self) -> str:
        """Check the binary and the port; the redis-server path."""
        binary = shutil.which(self.cfg.command)
        if binary is None:
            raise ToolMissing(f"redis-server is not installed. Install it with: {INSTALL_HINT}")
        if not port_is_free(self.cfg.host, self.cfg.port):
            raise PortInUse(
                f"Redis needs {self.cfg.host}:{self.cfg.port}, but another process listens there. "
                "Stop it or choose another port with MOBIUS_REDIS_URL."
            )
        return binary

    def start(self, ready_timeout_s: float = 20.0) -> bool:
        """Start unless running; False when it already ran."""
        if self.process.is_running():
            return False
        binary = self.preflight()
        self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
        conf = self.cfg.run_dir / "redis.conf"
        conf.write_text(render_redis_conf(self.cfg))
        self.process.start([binary, str(conf)])
        self.process.wait_ready(self.healthy, "redis-server (PING)", ready_timeout_s, poll_s=0.05)
        return True

    def stop(self) -> bool:
        return self.process.stop(timeout_s=15.0)

    def healthy(self) -> bool:
        client = redis.Redis(host=self.cfg.host, port=self.cfg.port, socket_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
