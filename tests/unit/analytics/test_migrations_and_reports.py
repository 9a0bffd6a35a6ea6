from datetime import UTC, datetime

import pytest

from analytics.migrations import load_migrations
from analytics.reports import load_saved_queries, parse_since

REQUIRED_REPORTS = {
    "cost_by_day",
    "top_spenders",
    "latency_by_model",
    "failure_rate_by_deployment",
    "cache_hit_rate",
    "savings_vs_all_smart",
    "cost_by_query_type",
    "month_end_forecast",
}


def test_migrations_are_ordered_split_and_take_the_ttl() -> None:
    migrations = load_migrations(ttl_days=30)
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    first = migrations[0]
    assert first.name == "completions" and len(first.statements) == 1
    assert "INTERVAL 30 DAY" in first.statements[0]
    rollup = next(m for m in migrations if m.name == "completions_by_minute")
    assert len(rollup.statements) == 2 and rollup.statements[1].startswith("CREATE MATERIALIZED VIEW")


def test_every_saved_query_has_a_description_a_plot_and_the_since_parameter() -> None:
    saved = load_saved_queries()
    assert set(saved) >= REQUIRED_REPORTS
    for query in saved.values():
        assert query.description and "\n" not in query.description
        assert query.plot.kind in ("line", "bar", "barh")
        assert "{since:DateTime64(3, 'UTC')}" in query.sql


def test_since_parses_durations() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_since("90m", now) == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="30m, 1h or 7d"):
        parse_since("yesterday", now)
