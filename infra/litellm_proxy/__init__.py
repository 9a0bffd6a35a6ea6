"""LiteLLM's own proxy server (`litellm --config`), the benchmark's point of comparison.

It runs from a virtualenv of its own, built once from the pinned requirements.txt next to this
file (see requirements.in for why it is not one of the project's dependency groups) and cached
under the settings' cache dir by the file's hash. The proxy gets the same model_list,
router_settings and litellm_settings as the workers, a throwaway master key (it refuses to start
without one) and the simulator's provider environment.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.errors import ServiceError
from infra.ports import port_is_free
from infra.procs import ManagedProcess

REQUIREMENTS = Path(__file__).with_name("requirements.txt")


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]  # infra/setup.sh installs it this way


def proxy_environment(cache_dir: Path) -> Path:
    """The proxy's virtualenv (created when missing); returns its `litellm` command."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    venv = cache_dir / "litellm-proxy" / digest
    command = venv / "bin" / "litellm"
    complete = venv / ".complete"  # written last: a half-built environment is rebuilt
    if complete.exists():
        return command
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [*_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)],
        [*_uv(), "pip", "sync", "--quiet", "--python", str(venv / "bin" / "python"), str(REQUIREMENTS)],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)  # noqa: S603 - our argv
        if done.returncode != 0:
            raise ServiceError(f"installing LiteLLM's proxy failed: {done.stderr.strip()[-2000:]}")
    complete.touch()
    return command


@dataclass
class LiteLLMProxy:
    """LiteLLM's own proxy in its pinned virtualenv, for the side-by-side benchmark."""

    port: int
    run_dir: Path
    provider_env: dict[str, str]
    master_key: str = field(default_factory=lambda: f"sk-bench-{secrets.token_hex(16)}", repr=False)

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("litellm-proxy", self.run_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, command: Path, router_config: dict[str, Any], timeout_s: float = 180.0) -> None:
        if not port_is_free("127.0.0.1", self.port):
            raise ServiceError(f"LiteLLM's proxy needs 127.0.0.1:{self.port}, which is taken")
        config = {key: router_config[key] for key in ("model_list", "router_settings", "litellm_settings")}
        # The key stays in the environment: the config file on disk never holds it.
        config["general_settings"] = {"master_key": "os.environ/LITELLM_MASTER_KEY"}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config_file = self.run_dir / "proxy.yaml"
        config_file.write_text(yaml.safe_dump(config))
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.run_dir),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_MASTER_KEY": self.master_key,
            **self.provider_env,
        }
        argv = [str(command), "--config", str(config_file), "--host", "127.0.0.1", "--port", str(self.port)]
        self.process.start(argv, env=env)
        self.process.wait_ready(self._live, "LiteLLM's proxy", timeout_s, poll_s=0.5)

    def _live(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=2) as reply:  # noqa: S310
                return bool(reply.status == 200)  # noqa: PLR2004
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        self.process.stop()
