"""`mobius selfcheck`: one message round the stack, as a user runs it."""

from pathlib import Path

from mobius.settings import settings_env
from tests.support.cli import local_settings, processes_under, run_mobius


def test_selfcheck_shows_a_message_round_the_stack_and_cleans_up(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "state")
    result = run_mobius("selfcheck", env=settings_env(settings))
    assert result.returncode == 0, result.stdout + result.stderr
    for hop in ("kafka", "redis", "clickhouse"):
        assert f"│ {hop}" in result.stdout
    assert "read back in group mobius-selfcheck" in result.stdout
    assert processes_under(tmp_path / "state") == []
