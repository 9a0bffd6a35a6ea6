"""README's first command ends in `mobius demo --json`-able output: run it as a user would."""

import json
from pathlib import Path

from infra.ports import pick_free_port
from mobius.settings import settings_env
from tests.support.cli import local_settings, processes_under, run_mobius

KEYS = {
    "published",
    "answered_ok",
    "errors",
    "dlq",
    "fallbacks",
    "groups_used",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "cost_usd",
    "all_smart_cost_usd",
    "classified_right_pct",
    "hard_answered_by_fast",
}


def test_demo_json_reports_a_sane_run_and_leaves_nothing_running(tmp_path: Path) -> None:
    settings = local_settings(
        tmp_path / "state", simulator_port=pick_free_port(), analytics_query_port=pick_free_port()
    )
    result = run_mobius(
        "demo", "--json", "--size", "60", "--latency-scale", "0.1", env=settings_env(settings), timeout=400
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary.keys() >= KEYS
    malformed = summary["published"] - 61  # 60 queries plus one repeated question
    assert malformed >= 2 and summary["dlq"] == malformed
    assert summary["answered_ok"] + summary["errors"] == 61
    assert summary["answered_ok"] >= 45
    assert summary["errors"] == summary["budget_refusals"]  # the demo's tight caps, nothing else
    assert summary["cache_hits"] >= 1
    assert set(summary["groups_used"]) >= {"fast", "smart", "code"}
    assert 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]
    assert 0 < summary["cost_usd"] < summary["all_smart_cost_usd"]
    assert summary["classified_right_pct"] >= 90  # the demo uses the trained classifier
    assert summary["analytics_rows"] == 61  # every completion reached ClickHouse through the sink
    assert processes_under(tmp_path / "state") == []
