"""`mobius up` / `status` / `down` as a user runs them, on a private state directory and ports."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from infra.ports import port_is_free
from mobius.settings import settings_env
from tests.support.cli import local_settings, processes_under, run_mobius


def _pids(status_output: str) -> dict[str, str]:
    rows = {}
    for line in status_output.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) >= 4 and cells[0] in ("kafka", "redis", "simulator"):
            rows[cells[0]] = cells[2]
    return rows


def test_up_twice_status_down_leaves_nothing(tmp_path: Path) -> None:
    """Local mode (no provider keys): `up` starts the provider simulator too, `down` stops it."""
    settings = local_settings(tmp_path / "state")
    env = settings_env(settings)
    ports = [
        settings.kafka_endpoints[0][1],
        settings.kafka_controller_port,
        settings.redis_host_port[1],
        settings.simulator_port,
    ]
    try:
        first = run_mobius("up", env=env)
        assert first.returncode == 0, first.stderr
        assert "started: redis, kafka, simulator" in first.stdout
        assert "created topics: mobius.queries" in first.stdout

        status = run_mobius("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("healthy") == 4, status.stdout
        assert "local mode" in status.stdout
        pids = _pids(status.stdout)
        assert all(pid.isdigit() for pid in pids.values()) and len(pids) == 3

        second = run_mobius("up", env=env)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert _pids(second.stdout) == pids
        assert len(processes_under(tmp_path / "state")) == 3
    finally:
        down = run_mobius("down", env=env)
    assert down.returncode == 0, down.stderr
    assert "stopped: kafka, redis, simulator" in down.stdout
    assert processes_under(tmp_path / "state") == []
    assert all(port_is_free("127.0.0.1", port) for port in ports)

    after = run_mobius("status", env=env)
    assert after.returncode == 1
    assert after.stdout.count("stopped") == 3
    assert run_mobius("down", env=env).stdout.strip() == "nothing was running"


def _path_with(tmp_path: Path, *tools: str) -> str:
    """A PATH holding only the named tools (symlinked), to simulate a machine without the others."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


@pytest.mark.parametrize(
    ("tools", "fresh_cache", "expected"),
    [
        (("redis-server", "mvn"), False, "apt-get install -y openjdk-17-jre-headless"),
        (("redis-server", "java"), True, "apt-get install -y maven"),
        (("java", "mvn"), False, "apt-get install -y redis-server"),
    ],
    ids=["no-java", "no-maven-and-no-cached-jars", "no-redis"],
)
def test_a_missing_tool_is_a_clear_error_and_starts_nothing(
    tmp_path: Path, tools: tuple[str, ...], fresh_cache: bool, expected: str
) -> None:
    overrides: dict[str, object] = {"cache_dir": tmp_path / "empty-cache"} if fresh_cache else {}
    settings = local_settings(tmp_path / "state", **overrides)
    result = run_mobius("up", env=settings_env(settings), path=_path_with(tmp_path, *tools))
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert processes_under(tmp_path / "state") == []


def test_a_taken_port_is_a_clear_error_and_starts_nothing(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "state")
    with socket.socket() as squatter:
        squatter.bind(settings.kafka_endpoints[0])
        squatter.listen()
        result = run_mobius("up", env=settings_env(settings))
    assert result.returncode == 1
    assert "another process listens there" in result.stderr
    assert str(settings.kafka_endpoints[0][1]) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert processes_under(tmp_path / "state") == []
