"""`mobius health` against the simulator: a table per deployment, exit 1 only when a group is down."""

from pathlib import Path

from infra.ports import pick_free_port
from infra.simulator.launcher import Simulator
from tests.support.cli import run_mobius


def test_health_reports_each_deployment_and_fails_only_for_a_dead_group(tmp_path: Path) -> None:
    simulator = Simulator(pick_free_port(), tmp_path / "sim")
    simulator.start(latency_scale=0.01)
    try:
        env = simulator.provider_env()
        healthy = run_mobius("health", env=env)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert healthy.stdout.count(" ok ") == 8 and "down" not in healthy.stdout

        simulator.controls(down=["anthropic"])
        half = run_mobius("health", env=env)
        assert half.returncode == 0  # every group still has an OpenAI deployment
        assert half.stdout.count(" down ") == 4 and "provider_unavailable" in half.stdout

        simulator.controls(down=["anthropic", "openai"])
        dead = run_mobius("health", env=env)
        assert dead.returncode == 1
        assert "every deployment of code, fast, long-context, smart is down" in dead.stderr
    finally:
        simulator.stop()
