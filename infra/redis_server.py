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
    # With a password, clients must authenticate: as `username` when one is given (an ACL user;
    # the passwordless default user is then switched off), else as the default user.
    password: str | None = None
    username: str | None = None

    @property
    def acl_user(self) -> str | None:
        return self.username if self.password and self.username not in (None, "", "default") else None


# What a pipeline user may do: read and write any key and run scripts (budgets, LiteLLM's
# counters), but not the commands that reconfigure, flush, debug or block the server.
PIPELINE_USER_RIGHTS = "~* &* +@all -@dangerous"


def render_redis_conf(cfg: RedisServerConfig) -> str:
    return "\n".join(
        [
            *_auth_lines(cfg),
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


def _auth_lines(cfg: RedisServerConfig) -> list[str]:
    if not cfg.password:
        return []
    if cfg.acl_user is None:
        return [f"requirepass {_quoted(cfg.password)}"]
    secret = _quoted(">" + cfg.password)
    return ["user default off", f"user {cfg.acl_user} on {secret} {PIPELINE_USER_RIGHTS}"]


def _quoted(value: str) -> str:
    """A redis.conf argument: double-quoted, so spaces and quotes in a password survive."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
        conf.touch(mode=0o600)  # it may hold the password: owner-only before anything is written
        conf.chmod(0o600)
        conf.write_text(render_redis_conf(self.cfg))
        self.process.start([binary, str(conf)])
        self.process.wait_ready(self.healthy, "redis-server (PING)", ready_timeout_s, poll_s=0.05)
        return True

    def stop(self) -> bool:
        return self.process.stop(timeout_s=15.0)

    def healthy(self) -> bool:
        client = redis.Redis(
            host=self.cfg.host,
            port=self.cfg.port,
            username=self.cfg.acl_user,
            password=self.cfg.password,
            socket_timeout=2,
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
