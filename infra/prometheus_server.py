"""Debian's Prometheus server, on a loopback port, scraping the given targets (tests and `mobius
dev` use it to check what an operator's Prometheus would see)."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml

from infra.errors import ToolMissing
from infra.procs import ManagedProcess

INSTALL_HINT = "apt-get update && apt-get install -y prometheus"


@dataclass(frozen=True)
class PrometheusConfig:
    port: int
    run_dir: Path
    targets: dict[str, list[str]]  # job -> host:port of each /metrics
    scrape_interval_s: float = 1.0
    command: str = "prometheus"


def render_prometheus_yml(cfg: PrometheusConfig) -> str:
    interval = f"{int(cfg.scrape_interval_s * 1000)}ms"
    return yaml.safe_dump(
        {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in sorted(cfg.targets.items())
            ],
        }
    )


class PrometheusServer:
    def __init__(self, cfg: PrometheusConfig) -> None:
        self.cfg = cfg
        self.process = ManagedProcess("prometheus", cfg.run_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.cfg.port}"

    def start(self, ready_timeout_s: float = 60.0) -> None:
        binary = shutil.which(self.cfg.command)
        if binary is None:
            raise ToolMissing(f"prometheus is not installed. Install it with: {INSTALL_HINT}")
        self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.cfg.run_dir / "prometheus.yml"
        config.write_text(render_prometheus_yml(self.cfg))
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.cfg.run_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.cfg.port}",
        ]
        self.process.start(argv)
        self.process.wait_ready(self.ready, "prometheus (/-/ready)", ready_timeout_s, poll_s=0.2)

    def stop(self) -> bool:
        return self.process.stop(timeout_s=20.0)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:  # noqa: S310
                return bool(response.status == HTTPStatus.OK)
        except (urllib.error.URLError, OSError):
            return False

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector a PromQL query answers (`data.result` of the HTTP API)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our loopback URL
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus refused {promql!r}: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def targets_up(self) -> dict[str, bool]:
        """Each scraped target's health, by job and address."""
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=10) as response:  # noqa: S310
            active = json.loads(response.read())["data"]["activeTargets"]
        return {f"{t['labels']['job']}/{t['labels']['instance']}": t["health"] == "up" for t in active}
