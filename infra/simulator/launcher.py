"""Starting and driving the provider simulator as a process (the demo, the bench and tests use it)."""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import PortInUse
from infra.ports import port_is_free
from infra.procs import ManagedProcess


@dataclass(frozen=True)
class Simulator:
    """The provider simulator as a process on a loopback port, and its control API."""

    port: int
    run_dir: Path

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("simulator", self.run_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def preflight(self) -> None:
        """Fail before anything starts when the port is taken."""
        if not port_is_free("127.0.0.1", self.port):
            raise PortInUse(
                f"the provider simulator needs 127.0.0.1:{self.port}, which is taken "
                "(MOBIUS_SIMULATOR_PORT moves it)"
            )

    def start(self, latency_scale: float = 1.0, timeout_s: float = 30.0) -> None:
        if self.process.is_running():
            return
        self.preflight()
        self.process.start(
            [
                sys.executable,
                "-m",
                "infra.simulator",
                "--port",
                str(self.port),
                "--latency-scale",
                str(latency_scale),
            ]
        )
        self.process.wait_ready(self.answers, "the provider simulator", timeout_s)

    def answers(self) -> bool:
        """True when the simulator answers its health check."""
        try:
            self.call("GET", "/health")
        except OSError:
            return False
        return True

    def stop(self) -> bool:
        return self.process.stop(timeout_s=10)

    def provider_env(self) -> dict[str, str]:
        """What points LiteLLM's OpenAI and Anthropic deployments at the simulator."""
        return {
            "OPENAI_API_BASE": f"{self.url}/v1",
            "OPENAI_API_KEY": "sk-simulator",
            "ANTHROPIC_API_BASE": self.url,
            "ANTHROPIC_API_KEY": "sk-ant-simulator",
        }

    def controls(self, **body: Any) -> dict[str, Any]:
        return self.call("POST", "/_sim/controls", body)

    def reset(self) -> None:
        self.call("POST", "/_sim/reset", {})

    def requests(self) -> dict[str, dict[str, int]]:
        """Requests seen per model and outcome, e.g. {"gpt-4o": {"ok": 3, "outage": 1}}."""
        counts: dict[str, dict[str, int]] = self.call("GET", "/_sim/stats")["requests"]
        return counts

    def stream_ttfts_ms(self) -> list[float]:
        """The simulator's own time to first piece of each recent stream (request in -> piece out)."""
        ttfts: list[float] = self.call("GET", "/_sim/stats")["stream_ttft_ms"]
        return ttfts

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - our own loopback URL
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
            return result
