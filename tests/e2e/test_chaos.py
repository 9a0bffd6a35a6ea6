"""`mobius chaos --json`, small: every scenario runs, loses and duplicates nothing, recovers by
itself, and leaves no process behind (the figures README quotes come from a full-size run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.ports import pick_free_port
from mobius.settings import settings_env
from mobius.tools.chaos_scenarios import SCENARIOS
from tests.support.cli import local_settings, processes_under, run_mobius


@pytest.mark.timeout(1500)
def test_every_scenario_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "state", analytics_query_port=pick_free_port())
    result = run_mobius(
        "chaos", "--json", "--queries", "80", "--rate", "20", "--outage-s", "8", "--fuzz-events", "1500",
        env=settings_env(settings),
        timeout=1400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    figures = {row["scenario"]: row for row in json.loads(result.stdout)}
    assert set(figures) == set(SCENARIOS)
    for name, row in figures.items():
        assert "error" not in row, (name, row)
        assert row["lost"] == 0 and row["duplicated"] == 0, (name, row)
        assert row.get("rows_missing", 0) == 0, (name, row)
    kill = figures["worker_kill"]
    assert kill["provider_calls_within_bound"] and kill["org_spend_nano"] == kill["answers_cost_nano"]
    assert figures["broker_kill"]["first_reply_after_broker_back_s"] >= 0
    redis = figures["redis_kill"]
    assert redis["workers_alive"] == 2 and redis["first_ok_after_redis_back_s"] >= 0
    assert figures["provider_down"]["answered_ok"] == figures["provider_down"]["sent"]
    fuzz = figures["malformed_fuzz"]
    assert fuzz["fuzz_events"] == 1500 and fuzz["unaccounted"] == 0 and fuzz["answered_ok_wrongly"] == 0
    assert fuzz["workers_alive"] == 2 and fuzz["queries_committed_after_s"] >= 0
    big = figures["oversized_input"]
    assert big["unaccounted"] == 0 and big["body_past_broker_limit_refused"]
    assert big["queries_committed_after_s"] >= 0
    canary = figures["canary_secrets"]
    assert canary["leaks"] == {} and canary["places_searched"] > 1000
    assert processes_under(tmp_path / "state") == []
