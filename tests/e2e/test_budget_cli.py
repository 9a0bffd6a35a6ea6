"""`mobius budget set|show|reset` as README shows them, against the real Redis."""

from __future__ import annotations

import uuid

from mobius.settings import MobiusSettings, settings_env
from tests.support.cli import run_mobius


def test_set_show_and_reset_an_org_and_a_user(stack_settings: MobiusSettings) -> None:
    env = settings_env(stack_settings)
    org, user = f"acme-{uuid.uuid4().hex[:6]}", f"u-{uuid.uuid4().hex[:6]}"

    assert (
        run_mobius("budget", "set", "--org", org, "--daily", "200", "--monthly", "4000", env=env).returncode
        == 0
    )
    shown = run_mobius("budget", "show", "--org", org, "--tier", "pro", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "200.000000" in shown.stdout and "4000.000000" in shown.stdout

    assert run_mobius("budget", "set", "--user", user, "--daily", "1.5", env=env).returncode == 0
    user_view = run_mobius("budget", "show", "--user", user, "--tier", "pro", env=env).stdout
    assert "1.500000" in user_view and "100.000000" in user_view  # monthly: the pro default

    reset = run_mobius("budget", "reset", "--user", user, "--limits", env=env)
    assert reset.returncode == 0 and "keys removed" in reset.stdout
    assert "5.000000" in run_mobius("budget", "show", "--user", user, "--tier", "pro", env=env).stdout


def test_budget_mistakes_are_clear_errors(stack_settings: MobiusSettings) -> None:
    env = settings_env(stack_settings)
    both = run_mobius("budget", "set", "--user", "a", "--org", "b", "--daily", "1", env=env)
    assert both.returncode == 1 and "exactly one of --user or --org" in both.stderr
    nothing = run_mobius("budget", "set", "--org", "b", env=env)
    assert nothing.returncode == 1 and "--daily and/or --monthly" in nothing.stderr
    bad_tier = run_mobius("budget", "show", "--user", "a", "--tier", "gold", env=env)
    assert bad_tier.returncode == 1 and "unknown tier 'gold'" in bad_tier.stderr
    down = run_mobius(
        "budget", "show", "--user", "a", env={**env, "MOBIUS_REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    assert down.returncode == 1 and "did not answer" in down.stderr and "Traceback" not in down.stderr
